#include "trial-runner/kubernetes/credentials.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "trial-runner/kubernetes/job_status.h"
#include "trial-runner/local/process.h"

namespace vernier::kubernetes {
namespace {

constexpr absl::Duration kTokenFileRecheck = absl::Minutes(1);
// Output of a plugin beyond this is an error: credentials are small.
constexpr size_t kMaxPluginOutput = 1 << 20;

}  // namespace

CommandRunner ProcessCommandRunner() {
  return [](const std::vector<std::string>& argv,
            const std::map<std::string, std::string>& env)
             -> absl::StatusOr<std::string> {
    absl::StatusOr<trial_runner::SpawnedWorker> child =
        trial_runner::SpawnWorker(argv, env, "");
    if (!child.ok()) return child.status();
    std::string out, err;
    // Both pipes are drained together so that neither fills and blocks the
    // plugin.
    pollfd fds[2] = {{child->stdout_fd.get(), POLLIN, 0},
                     {child->stderr_fd.get(), POLLIN, 0}};
    bool too_much = false;
    int open = 2;
    while (open > 0 && !too_much) {
      if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buffer[4096];
        const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          fds[i].fd = -1;
          --open;
          continue;
        }
        (i == 0 ? out : err).append(buffer, static_cast<size_t>(n));
        too_much = out.size() + err.size() > kMaxPluginOutput;
      }
    }
    if (too_much) kill(child->pid, SIGKILL);
    int status = 0;
    while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (too_much) {
      return absl::InternalError(
          absl::StrCat("'", argv[0], "' printed more than 1 MiB"));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(absl::StrCat(
          "'", argv[0], "' failed (",
          WIFEXITED(status) ? absl::StrCat("exit code ", WEXITSTATUS(status))
                            : absl::StrCat("signal ", WTERMSIG(status)),
          ")", err.empty() ? "" : ": ", absl::StripAsciiWhitespace(err)));
    }
    return out;
  };
}

absl::StatusOr<std::pair<RequestCredentials, absl::Time>> ParseExecCredential(
    const std::string& json) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("its output is not JSON");
  }
  if (StringAt(doc, {"kind"}) != "ExecCredential") {
    return absl::InvalidArgumentError(
        "its output is not an ExecCredential (kind)");
  }
  if (!JsonAt(doc, {"status"}).is_object()) {
    return absl::InvalidArgumentError("its ExecCredential has no status");
  }
  // A field of the wrong type reads as absent, and so fails below.
  RequestCredentials credentials;
  credentials.bearer_token = StringAt(doc, {"status", "token"});
  credentials.client_cert_pem =
      StringAt(doc, {"status", "clientCertificateData"});
  credentials.client_key_pem = StringAt(doc, {"status", "clientKeyData"});
  if (credentials.bearer_token.empty() &&
      (credentials.client_cert_pem.empty() ||
       credentials.client_key_pem.empty())) {
    return absl::InvalidArgumentError(
        "its ExecCredential status has neither a token nor a client "
        "certificate and key");
  }
  absl::Time until = absl::InfiniteFuture();
  const nlohmann::json& expiry_node =
      JsonAt(doc, {"status", "expirationTimestamp"});
  if (!expiry_node.is_null() && !expiry_node.is_string()) {
    return absl::InvalidArgumentError(
        "its expirationTimestamp is not an RFC 3339 string");
  }
  if (const std::string expiry = StringAt(expiry_node, {}); !expiry.empty()) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, expiry, &until, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "its expirationTimestamp '", expiry, "' is not RFC 3339: ", error));
    }
  }
  return std::pair(std::move(credentials), until);
}

Credentials::Credentials(ClusterConfig config, CommandRunner runner,
                         Clock clock)
    : config_(std::move(config)),
      runner_(std::move(runner)),
      clock_(std::move(clock)) {}

void Credentials::Invalidate() {
  absl::MutexLock lock(&mu_);
  cached_.reset();
}

absl::StatusOr<RequestCredentials> Credentials::RunPlugin() {
  const ExecPlugin& exec = *config_.exec;
  nlohmann::json info = {{"apiVersion", exec.api_version},
                         {"kind", "ExecCredential"},
                         {"spec", {{"interactive", false}}}};
  if (exec.provide_cluster_info) {
    info["spec"]["cluster"] = {{"server", config_.server}};
  }
  std::map<std::string, std::string> env = exec.env;
  env["KUBERNETES_EXEC_INFO"] = info.dump();
  absl::StatusOr<std::string> output = runner_(exec.argv, env);
  const std::string what =
      absl::StrCat("kubeconfig context '", config_.context, "': exec plugin '",
                   exec.argv.front(), "'");
  if (!output.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, ": ", output.status().message()));
  }
  auto parsed = ParseExecCredential(*output);
  if (!parsed.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, ": ", parsed.status().message()));
  }
  cached_ = parsed->first;
  cached_until_ = parsed->second;
  return parsed->first;
}

absl::StatusOr<RequestCredentials> Credentials::Get() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_();
  if (cached_ && now < cached_until_) return *cached_;
  if (config_.exec) return RunPlugin();
  RequestCredentials credentials;
  credentials.bearer_token = config_.token;
  credentials.client_cert_pem = config_.client_cert_pem;
  credentials.client_key_pem = config_.client_key_pem;
  if (!config_.token_file.empty()) {
    std::ifstream in(config_.token_file);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      return absl::UnauthenticatedError(
          absl::StrCat("kubeconfig context '", config_.context,
                       "': cannot read token file '", config_.token_file, "'"));
    }
    credentials.bearer_token =
        std::string(absl::StripAsciiWhitespace(text.str()));
    cached_ = credentials;
    cached_until_ = now + kTokenFileRecheck;
  }
  return credentials;
}

}  // namespace vernier::kubernetes
