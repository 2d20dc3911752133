// Where a Kubernetes API server is and how to authenticate to it, resolved
// the way kubectl resolves it: a kubeconfig context, or the in-cluster
// service account.
//
// A kubeconfig is read from $KUBECONFIG (a ':'-separated list of files,
// merged: the first file to define a name wins, and the first current-context
// wins) or else ~/.kube/config. Relative file paths in a kubeconfig are
// relative to that file's folder. Supported: clusters with server,
// certificate-authority(-data), insecure-skip-tls-verify; users with token,
// tokenFile, client-certificate(-data), client-key(-data), and exec plugins
// of client.authentication.k8s.io/v1 (and v1beta1). Every error names the
// context (and the file or field) it is about.
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_KUBECONFIG_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_KUBECONFIG_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vernier::kubernetes {

// A credential plugin to run for a token or client certificate.
struct ExecPlugin {
  std::string api_version;        // client.authentication.k8s.io/v1 or v1beta1
  std::vector<std::string> argv;  // command (looked up on PATH), then args
  std::map<std::string, std::string> env;  // added to this process's
  // The server address of the cluster, passed to the plugin in
  // KUBERNETES_EXEC_INFO when provideClusterInfo is set.
  bool provide_cluster_info = false;
};

// Everything needed to talk to one cluster. PEM texts, never file names:
// files are read when the config is resolved, except the token file, which
// is re-read because service-account tokens rotate.
struct ClusterConfig {
  // The context, or "in-cluster": named by every error about it.
  std::string context;
  // https://host[:port][/prefix], without a trailing '/'.
  std::string server;
  // The default namespace of the context; empty when it has none.
  std::string default_namespace;
  // Trusted CA certificates; empty means the system's.
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  // TLS client authentication, when both are set.
  std::string client_cert_pem;
  std::string client_key_pem;
  // A static bearer token...
  std::string token;
  // ...or a file holding it (re-read when it changes)...
  std::string token_file;
  // ...or a plugin that prints an ExecCredential.
  std::optional<ExecPlugin> exec;
};

// Where credentials are looked for. Tests point these at their own files.
struct KubeconfigSources {
  // The value of $KUBECONFIG; empty when unset.
  std::string kubeconfig_env;
  // The home folder, for ~/.kube/config; empty when unknown.
  std::string home;
  // The root under which var/run/secrets/kubernetes.io/serviceaccount/ holds
  // token, ca.crt and namespace in a pod.
  std::string in_cluster_root = "/";
  // $KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT in a pod.
  std::string service_host;
  std::string service_port;
};

// The sources of this process: $KUBECONFIG, $HOME, the real root, and the
// service variables.
KubeconfigSources SourcesFromEnvironment();

// The cluster of `context` (empty: the current context). With no kubeconfig
// file and no context asked for, the in-cluster service account, when this
// process runs in a pod. NOT_FOUND when there is no configuration at all or
// no such context; INVALID_ARGUMENT for a malformed kubeconfig or a file it
// names that cannot be read.
absl::StatusOr<ClusterConfig> ResolveCluster(const KubeconfigSources& sources,
                                             absl::string_view context);

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_KUBECONFIG_H_
