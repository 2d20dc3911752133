// The `vernier` subcommands. Each returns the process exit status; each only
// turns arguments into calls on the modules and their results into text.
#ifndef VERNIER_CLI_COMMANDS_H_
#define VERNIER_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace vernier::cli {

// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitStudyFailed = 1;  // the study ended FAILED
inline constexpr int kExitBadInput = 2;     // invalid YAML, unknown study...
inline constexpr int kExitError = 3;  // storage, network or system failure

inline constexpr char kDefaultDb[] = "vernier.db";
inline constexpr char kDefaultServer[] = "127.0.0.1:7007";

// Where a client subcommand finds studies: a database file (--db) or a
// server (--server). With neither, ./vernier.db when it exists, else the
// server at kDefaultServer.
struct Target {
  std::string db_path;
  std::string server;
  std::string admin_token_file;
  std::string tls_ca_file;
};

inline constexpr char kDefaultHttp[] = "127.0.0.1:8080";

// How a serving process runs Kubernetes trials (--k8s-owner, --k8s-max-jobs).
struct KubernetesArgs {
  // The vernier.dev/owner label value of the Jobs it creates and adopts;
  // empty: the host name and a hash of the database's path, stable across
  // restarts.
  std::string owner;
  // At most this many of its Jobs run at once, over all its studies;
  // 0: no cap.
  int max_jobs = 0;
};

struct RunArgs {
  std::string yaml_path;
  std::string db_path = kDefaultDb;
  // The dashboard's address; port 0 (the default) picks a free one.
  std::string http_address = "127.0.0.1:0";
  KubernetesArgs kubernetes;
};
int Run(const RunArgs& args);

int Validate(const std::string& yaml_path);

// `vernier k8s render`: prints the manifests of the first `count` trials.
int RenderKubernetes(const std::string& yaml_path, int count);

struct ServeArgs {
  std::string db_path = kDefaultDb;
  std::string grpc_address = kDefaultServer;
  std::string http_address = kDefaultHttp;
  std::string admin_token_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  int max_running_trials = 0;                // 0: no cap
  std::vector<std::string> max_running_per;  // "LABEL=N" each
  KubernetesArgs kubernetes;
};
int Serve(const ServeArgs& args);

struct QueryArgs {
  Target target;
  std::string study;  // empty: the only study there
  bool json = false;
};
int ListStudies(const QueryArgs& args);
int ShowStudy(const QueryArgs& args);
int ListTrials(const QueryArgs& args);
int ShowBest(const QueryArgs& args);
// `vernier logs STUDY TRIAL`: the trial's log file (local and Kubernetes
// workers both write one beside the database), else its kept log tail.
int ShowLogs(const QueryArgs& args, int trial_number);

struct SubmitArgs {
  Target target;
  std::string yaml_path;
  bool json = false;
};
int Submit(const SubmitArgs& args);
int StopStudy(const QueryArgs& args);

struct CostArgs {
  Target target;
  std::string by = "study";  // or a label: team, owner, ...
  std::string since;         // a duration ("7d"); empty: all time
  bool json = false;
};
// Trials' costs summed per study or label value, in each study's currency.
int ShowCost(const CostArgs& args);

}  // namespace vernier::cli

#endif  // VERNIER_CLI_COMMANDS_H_
