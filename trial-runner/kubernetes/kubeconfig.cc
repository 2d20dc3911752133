#include "trial-runner/kubernetes/kubeconfig.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "yaml-cpp/yaml.h"

namespace vernier::kubernetes {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kServiceAccountDir =
    "var/run/secrets/kubernetes.io/serviceaccount";

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "cannot read '", path.string(),
        "': ", std::error_code(errno, std::generic_category()).message()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Scalar(const YAML::Node& map, const char* key) {
  const YAML::Node value = map[key];
  return value && value.IsScalar() ? value.Scalar() : std::string();
}

// One kubeconfig file's named entries, with the folder its relative paths
// start from.
struct Entry {
  YAML::Node node;  // the inner mapping: `cluster:`, `user:`, `context:`
  fs::path base_dir;
};

// The merged kubeconfig: first definition of each name wins.
struct Kubeconfig {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::vector<std::string> files;
};

absl::Status AddFile(const fs::path& path, Kubeconfig* config) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig '", path.string(), "' line ", e.mark.line + 1,
                     ": ", e.msg));
  }
  config->files.push_back(path.string());
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig '", path.string(), "' is not a mapping"));
  }
  const fs::path base = path.parent_path();
  const std::pair<const char*, std::map<std::string, Entry>*> lists[] = {
      {"clusters", &config->clusters},
      {"users", &config->users},
      {"contexts", &config->contexts}};
  for (const auto& [list_key, entries] : lists) {
    const YAML::Node list = root[list_key];
    if (!list || list.IsNull()) continue;
    if (!list.IsSequence()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kubeconfig '", path.string(), "': ", list_key, " must be a list"));
    }
    const std::string inner(list_key, std::strlen(list_key) - 1);
    for (const YAML::Node& item : list) {
      const std::string name = item.IsMap() ? Scalar(item, "name") : "";
      if (name.empty() || !item[inner] || !item[inner].IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "kubeconfig '", path.string(), "': every entry of ", list_key,
            " needs a name and a '", inner, "' mapping"));
      }
      entries->try_emplace(name, Entry{item[inner], base});
    }
  }
  if (config->current_context.empty()) {
    config->current_context = Scalar(root, "current-context");
  }
  return absl::OkStatus();
}

// The kubeconfig files to read, in order: $KUBECONFIG's that exist, or
// ~/.kube/config when it exists.
std::vector<fs::path> KubeconfigFiles(const KubeconfigSources& sources) {
  std::vector<fs::path> files;
  std::error_code error;
  if (!sources.kubeconfig_env.empty()) {
    for (absl::string_view part :
         absl::StrSplit(sources.kubeconfig_env, ':', absl::SkipEmpty())) {
      if (fs::exists(fs::path(std::string(part)), error)) {
        files.emplace_back(std::string(part));
      }
    }
    return files;
  }
  if (!sources.home.empty()) {
    const fs::path path = fs::path(sources.home) / ".kube" / "config";
    if (fs::exists(path, error)) files.push_back(path);
  }
  return files;
}

// Reads the PEM text of `key`-data (base64) or `key` (a file) of `entry`.
absl::Status ReadPem(const Entry& entry, const std::string& key,
                     const std::string& what, std::string* out) {
  const std::string data = Scalar(entry.node, (key + "-data").c_str());
  if (!data.empty()) {
    if (!absl::Base64Unescape(data, out)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": ", key, "-data is not valid base64"));
    }
    return absl::OkStatus();
  }
  const std::string file = Scalar(entry.node, key.c_str());
  if (file.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadFile(entry.base_dir / file);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", key, ": ", text.status().message()));
  }
  *out = *std::move(text);
  return absl::OkStatus();
}

absl::StatusOr<ExecPlugin> ReadExec(const YAML::Node& node,
                                    const std::string& what) {
  ExecPlugin exec;
  exec.api_version = Scalar(node, "apiVersion");
  if (exec.api_version != "client.authentication.k8s.io/v1" &&
      exec.api_version != "client.authentication.k8s.io/v1beta1") {
    return absl::InvalidArgumentError(absl::StrCat(
        what,
        ": exec apiVersion must be client.authentication.k8s.io/v1 or "
        "v1beta1 (not '",
        exec.api_version, "')"));
  }
  const std::string command = Scalar(node, "command");
  if (command.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": exec needs a command"));
  }
  if (Scalar(node, "interactiveMode") == "Always") {
    return absl::InvalidArgumentError(absl::StrCat(
        what,
        ": exec plugin needs an interactive terminal "
        "(interactiveMode: Always), which a server does not have"));
  }
  exec.argv.push_back(command);
  if (const YAML::Node args = node["args"]; args && args.IsSequence()) {
    for (const YAML::Node& arg : args) exec.argv.push_back(arg.Scalar());
  }
  if (const YAML::Node env = node["env"]; env && env.IsSequence()) {
    for (const YAML::Node& var : env) {
      exec.env[Scalar(var, "name")] = Scalar(var, "value");
    }
  }
  exec.provide_cluster_info =
      node["provideClusterInfo"] && node["provideClusterInfo"].as<bool>(false);
  return exec;
}

absl::StatusOr<ClusterConfig> FromKubeconfig(const Kubeconfig& config,
                                             absl::string_view asked) {
  const std::string name =
      asked.empty() ? config.current_context : std::string(asked);
  const std::string files = absl::StrJoin(config.files, ":");
  if (name.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "kubeconfig ", files,
        " sets no current-context; name a context in worker.kubernetes"));
  }
  const std::string what = absl::StrCat("kubeconfig context '", name, "'");
  const auto context = config.contexts.find(name);
  if (context == config.contexts.end()) {
    return absl::NotFoundError(absl::StrCat(what, " is not in ", files));
  }
  ClusterConfig out;
  out.context = name;
  out.default_namespace = Scalar(context->second.node, "namespace");
  const std::string cluster_name = Scalar(context->second.node, "cluster");
  const auto cluster = config.clusters.find(cluster_name);
  if (cluster == config.clusters.end()) {
    return absl::NotFoundError(absl::StrCat(what, ": its cluster '",
                                            cluster_name, "' is not defined"));
  }
  const std::string cluster_what =
      absl::StrCat(what, ": cluster '", cluster_name, "'");
  out.server = std::string(
      absl::StripSuffix(Scalar(cluster->second.node, "server"), "/"));
  if (!absl::StartsWith(out.server, "https://") &&
      !absl::StartsWith(out.server, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(cluster_what, ": server must be an https:// URL (not '",
                     out.server, "')"));
  }
  out.insecure_skip_tls_verify =
      Scalar(cluster->second.node, "insecure-skip-tls-verify") == "true";
  if (absl::Status read = ReadPem(cluster->second, "certificate-authority",
                                  cluster_what, &out.ca_pem);
      !read.ok()) {
    return read;
  }
  const std::string user_name = Scalar(context->second.node, "user");
  if (user_name.empty()) return out;
  const auto user = config.users.find(user_name);
  if (user == config.users.end()) {
    return absl::NotFoundError(
        absl::StrCat(what, ": its user '", user_name, "' is not defined"));
  }
  const std::string user_what = absl::StrCat(what, ": user '", user_name, "'");
  const Entry& u = user->second;
  out.token = Scalar(u.node, "token");
  if (const std::string file = Scalar(u.node, "tokenFile"); !file.empty()) {
    out.token_file = (u.base_dir / file).string();
  }
  if (absl::Status read =
          ReadPem(u, "client-certificate", user_what, &out.client_cert_pem);
      !read.ok()) {
    return read;
  }
  if (absl::Status read =
          ReadPem(u, "client-key", user_what, &out.client_key_pem);
      !read.ok()) {
    return read;
  }
  if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(user_what,
                     ": a client certificate needs its key, and a key its "
                     "certificate"));
  }
  if (const YAML::Node exec = u.node["exec"]; exec && exec.IsMap()) {
    absl::StatusOr<ExecPlugin> plugin = ReadExec(exec, user_what);
    if (!plugin.ok()) return plugin.status();
    out.exec = *std::move(plugin);
  }
  return out;
}

absl::StatusOr<ClusterConfig> InCluster(const KubeconfigSources& sources) {
  const fs::path dir =
      fs::path(sources.in_cluster_root) / std::string(kServiceAccountDir);
  std::error_code error;
  if (sources.service_host.empty() || !fs::exists(dir / "token", error)) {
    return absl::NotFoundError(
        "no Kubernetes credentials: no kubeconfig ($KUBECONFIG or "
        "~/.kube/config), and not running in a pod (no "
        "KUBERNETES_SERVICE_HOST and service-account token)");
  }
  ClusterConfig out;
  out.context = "in-cluster";
  const std::string host = sources.service_host.find(':') == std::string::npos
                               ? sources.service_host
                               : absl::StrCat("[", sources.service_host, "]");
  out.server =
      absl::StrCat("https://", host, ":",
                   sources.service_port.empty() ? "443" : sources.service_port);
  out.token_file = (dir / "token").string();
  absl::StatusOr<std::string> ca = ReadFile(dir / "ca.crt");
  if (!ca.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("in-cluster service account: ", ca.status().message()));
  }
  out.ca_pem = *std::move(ca);
  if (absl::StatusOr<std::string> ns = ReadFile(dir / "namespace"); ns.ok()) {
    out.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return out;
}

}  // namespace

KubeconfigSources SourcesFromEnvironment() {
  const auto get = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
  };
  KubeconfigSources sources;
  sources.kubeconfig_env = get("KUBECONFIG");
  sources.home = get("HOME");
  sources.service_host = get("KUBERNETES_SERVICE_HOST");
  sources.service_port = get("KUBERNETES_SERVICE_PORT");
  return sources;
}

absl::StatusOr<ClusterConfig> ResolveCluster(const KubeconfigSources& sources,
                                             absl::string_view context) {
  const std::vector<fs::path> files = KubeconfigFiles(sources);
  if (files.empty() && context.empty()) return InCluster(sources);
  if (files.empty()) {
    return absl::NotFoundError(
        absl::StrCat("kubeconfig context '", context,
                     "': no kubeconfig file ($KUBECONFIG or ~/.kube/config)"));
  }
  Kubeconfig config;
  for (const fs::path& file : files) {
    if (absl::Status added = AddFile(file, &config); !added.ok()) {
      return added;
    }
  }
  try {
    return FromKubeconfig(config, context);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig context '", context, "': ", e.msg));
  }
}

}  // namespace vernier::kubernetes
