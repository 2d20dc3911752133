// Credentials: what each request to the API server authenticates with,
// refreshed as kubectl refreshes it.
//
// A static token or client certificate is used as is. A token file is
// re-read at most once a minute (service-account tokens rotate). An exec
// plugin (client.authentication.k8s.io/v1) is run when there is no cached
// credential, when the cached one has passed its expirationTimestamp, and
// after Invalidate (a 401 from the server); its ExecCredential output gives
// a token or a client certificate and key.
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_CREDENTIALS_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_CREDENTIALS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "trial-runner/kubernetes/kubeconfig.h"

namespace vernier::kubernetes {

// What one request authenticates with; empty fields are not used.
struct RequestCredentials {
  std::string bearer_token;
  std::string client_cert_pem;
  std::string client_key_pem;
};

// Runs argv with the environment of this process plus `env`; returns its
// stdout, or an error with its stderr when it cannot start or exits non-zero.
using CommandRunner = std::function<absl::StatusOr<std::string>(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env)>;

// Runs commands as child processes.
CommandRunner ProcessCommandRunner();

using Clock = std::function<absl::Time()>;

// Thread-safe.
class Credentials {
 public:
  Credentials(ClusterConfig config, CommandRunner runner, Clock clock);
  Credentials(const Credentials&) = delete;
  Credentials& operator=(const Credentials&) = delete;

  // The credentials for the next request. Errors (a plugin that fails or
  // prints nonsense, an unreadable token file) are UNAUTHENTICATED and name
  // the context.
  absl::StatusOr<RequestCredentials> Get();

  // Drops a cached plugin credential or token file content, so that the next
  // Get fetches a fresh one.
  void Invalidate();

  const ClusterConfig& config() const { return config_; }

 private:
  absl::StatusOr<RequestCredentials> RunPlugin()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClusterConfig config_;
  const CommandRunner runner_;
  const Clock clock_;
  absl::Mutex mu_;
  // The last plugin or token-file credential, and until when it holds.
  std::optional<RequestCredentials> cached_ ABSL_GUARDED_BY(mu_);
  absl::Time cached_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Parses a plugin's ExecCredential JSON: its status.token, or its
// status.clientCertificateData and clientKeyData, and its
// status.expirationTimestamp (RFC 3339; InfiniteFuture when absent).
absl::StatusOr<std::pair<RequestCredentials, absl::Time>> ParseExecCredential(
    const std::string& json);

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_CREDENTIALS_H_
