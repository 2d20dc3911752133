// vernier: the command-line entry point. Argument handling only.
#include <string>

#include "CLI/CLI.hpp"
#include "algorithms/external/external_algorithm.h"
#include "cli/commands.h"
#include "spdlog/spdlog.h"
#include "trial-runner/kubernetes/job_builder.h"

namespace {

// --db / --server and what a server connection needs.
void AddTargetOptions(CLI::App* command, vernier::cli::Target* target) {
  command->add_option(
      "--db", target->db_path,
      "Read this database file (default ./vernier.db if it exists)");
  command->add_option("--server", target->server,
                      std::string("Talk to this server (default ") +
                          vernier::cli::kDefaultServer + ")");
  command->add_option("--admin-token-file", target->admin_token_file,
                      "File holding the server's admin token");
  command->add_option(
      "--tls-ca", target->tls_ca_file,
      "PEM file of the CA that signed the server's certificate");
}

// --k8s-owner / --k8s-max-jobs of a command that runs studies.
void AddKubernetesOptions(CLI::App* command,
                          vernier::cli::KubernetesArgs* kubernetes) {
  command
      ->add_option("--k8s-owner", kubernetes->owner,
                   "Label value (vernier.dev/owner) of the Kubernetes Jobs "
                   "this process creates and, after a restart, adopts "
                   "(default: host name and a hash of the database path)")
      ->check([](const std::string& owner) -> std::string {
        if (vernier::kubernetes::OwnerLabelValue(owner) == owner) return "";
        return "'" + owner +
               "' is not a Kubernetes label value: at most 63 letters, "
               "digits, '-', '_' or '.', starting and ending with a letter "
               "or digit";
      });
  command
      ->add_option("--k8s-max-jobs", kubernetes->max_jobs,
                   "At most this many Kubernetes Jobs at once, over all "
                   "studies (0: no cap); more trials wait, visibly")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = vernier::cli;
  CLI::App app{"Vernier: hyperparameter tuning for ML training code"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debugging detail");

  cli::RunArgs run_args;
  CLI::App* run = app.add_subcommand(
      "run", "Run a study embedded until it ends; run again to resume it");
  run->add_option("study.yaml", run_args.yaml_path, "The study to run")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--db", run_args.db_path, "SQLite database file")
      ->capture_default_str();
  run->add_option("--http", run_args.http_address,
                  "Dashboard address (port 0: any free port)")
      ->capture_default_str();
  AddKubernetesOptions(run, &run_args.kubernetes);

  std::string validate_path;
  CLI::App* validate = app.add_subcommand(
      "validate", "Check a study YAML and list every problem");
  validate->add_option("study.yaml", validate_path, "The study to check")
      ->required()
      ->check(CLI::ExistingFile);

  std::string render_path;
  int render_count = 2;
  CLI::App* k8s = app.add_subcommand("k8s", "Kubernetes tools");
  CLI::App* render = k8s->add_subcommand(
      "render", "Print the Job manifests that a study's trials would get");
  render->add_option("study.yaml", render_path, "The study to render")
      ->required()
      ->check(CLI::ExistingFile);
  render->add_option("--count", render_count, "How many trials to render")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();

  cli::ServeArgs serve_args;
  CLI::App* serve =
      app.add_subcommand("serve", "Run a server for many studies");
  serve->add_option("--db", serve_args.db_path, "SQLite database file")
      ->capture_default_str();
  serve
      ->add_option("--grpc", serve_args.grpc_address,
                   "gRPC address to listen on")
      ->capture_default_str();
  serve
      ->add_option("--http", serve_args.http_address,
                   "Dashboard, JSON API and /metrics address")
      ->capture_default_str();
  serve->add_option(
      "--admin-token-file", serve_args.admin_token_file,
      "Require this token (the file's content) to manage studies");
  serve->add_option("--tls-cert", serve_args.tls_cert_file,
                    "PEM certificate for TLS");
  serve->add_option("--tls-key", serve_args.tls_key_file,
                    "PEM private key for TLS");
  serve
      ->add_option("--max-running-trials", serve_args.max_running_trials,
                   "At most N trials run at once across all studies; the "
                   "rest wait their turn")
      ->check(CLI::Range(1, 1000000));
  serve->add_option("--max-running-per", serve_args.max_running_per,
                    "LABEL=N: at most N running trials for each value of the "
                    "study label LABEL (e.g. team=8); repeatable");
  AddKubernetesOptions(serve, &serve_args.kubernetes);

  cli::QueryArgs query;
  auto add_query = [&](const std::string& name, const std::string& help,
                       bool takes_study) {
    CLI::App* command = app.add_subcommand(name, help);
    AddTargetOptions(command, &query.target);
    command->add_flag("--json", query.json, "Print JSON for scripts");
    if (takes_study) {
      command->add_option("study", query.study,
                          "Study name (optional when there is only one)");
    }
    return command;
  };
  CLI::App* ls = add_query("ls", "List the studies", false);
  CLI::App* show =
      add_query("show", "Show a study: state, best trial, YAML", true);
  CLI::App* trials = add_query("trials", "List a study's trials", true);
  CLI::App* best = add_query("best", "Show a study's best trial", true);
  CLI::App* stop = add_query("stop", "Stop a study on a server", true);
  stop->get_option("study")->required();
  int logs_trial = 0;
  CLI::App* logs = add_query("logs", "Print a trial's log", true);
  logs->get_option("study")->required();
  logs->add_option("trial", logs_trial, "The trial's number")->required();

  cli::CostArgs cost_args;
  CLI::App* cost = app.add_subcommand(
      "cost", "What trials cost, summed per study or per label");
  AddTargetOptions(cost, &cost_args.target);
  cost->add_option("--by", cost_args.by,
                   "study, or a label name such as team or owner")
      ->capture_default_str();
  cost->add_option("--since", cost_args.since,
                   "only trials started this recently (7d, 12h, 90m)");
  cost->add_flag("--json", cost_args.json, "Print JSON for scripts");

  cli::SubmitArgs submit_args;
  CLI::App* submit = app.add_subcommand("submit", "Submit a study to a server");
  submit->add_option("study.yaml", submit_args.yaml_path, "The study to submit")
      ->required()
      ->check(CLI::ExistingFile);
  AddTargetOptions(submit, &submit_args.target);
  submit->add_flag("--json", submit_args.json, "Print JSON for scripts");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help is a "success" parse error; anything else is bad input.
    return app.exit(error) == 0 ? cli::kExitOk : cli::kExitBadInput;
  }
  const spdlog::level::level_enum quiet =
      serve->parsed() ? spdlog::level::info : spdlog::level::warn;
  spdlog::set_level(verbose ? spdlog::level::debug : quiet);
  spdlog::set_pattern("%^%l%$: %v");

  // Every subcommand that reads a study must know every algorithm's name.
  vernier::algorithms::RegisterExternalAlgorithm();
  if (run->parsed()) return cli::Run(run_args);
  if (validate->parsed()) return cli::Validate(validate_path);
  if (render->parsed()) return cli::RenderKubernetes(render_path, render_count);
  if (serve->parsed()) return cli::Serve(serve_args);
  if (ls->parsed()) return cli::ListStudies(query);
  if (show->parsed()) return cli::ShowStudy(query);
  if (trials->parsed()) return cli::ListTrials(query);
  if (best->parsed()) return cli::ShowBest(query);
  if (stop->parsed()) return cli::StopStudy(query);
  if (cost->parsed()) return cli::ShowCost(cost_args);
  if (logs->parsed()) return cli::ShowLogs(query, logs_trial);
  if (submit->parsed()) return cli::Submit(submit_args);
  return cli::kExitBadInput;
}
