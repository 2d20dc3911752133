// vernier: the command-line entry point. Argument handling only.
#include <string>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"Vernier: hyperparameter tuning for ML training code"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debugging detail");

  vernier::cli::RunArgs run_args{.db_path = "vernier.db"};
  CLI::App* run = app.add_subcommand(
      "run", "Run a study embedded until it ends; run again to resume it");
  run->add_option("study.yaml", run_args.yaml_path, "The study to run")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--db", run_args.db_path, "SQLite database file")
      ->capture_default_str();

  std::string validate_path;
  CLI::App* validate = app.add_subcommand(
      "validate", "Check a study YAML and list every problem");
  validate->add_option("study.yaml", validate_path, "The study to check")
      ->required()
      ->check(CLI::ExistingFile);

  vernier::cli::QueryArgs query{.db_path = "vernier.db"};
  auto add_query_options = [&query](CLI::App* command, bool takes_study) {
    command->add_option("--db", query.db_path, "SQLite database file")
        ->capture_default_str();
    command->add_flag("--json", query.json, "Print JSON for scripts");
    if (takes_study) {
      command->add_option("study", query.study,
                          "Study name (optional when the database has one)");
    }
  };
  CLI::App* ls = app.add_subcommand("ls", "List the studies");
  add_query_options(ls, false);
  CLI::App* trials = app.add_subcommand("trials", "List a study's trials");
  add_query_options(trials, true);
  CLI::App* best = app.add_subcommand("best", "Show a study's best trial");
  add_query_options(best, true);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help is a "success" parse error; anything else is bad input.
    return app.exit(error) == 0 ? vernier::cli::kExitOk
                                : vernier::cli::kExitBadInput;
  }
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
  spdlog::set_pattern("%^%l%$: %v");

  if (run->parsed()) return vernier::cli::Run(run_args);
  if (validate->parsed()) return vernier::cli::Validate(validate_path);
  if (ls->parsed()) return vernier::cli::ListStudies(query);
  if (trials->parsed()) return vernier::cli::ListTrials(query);
  if (best->parsed()) return vernier::cli::ShowBest(query);
  return vernier::cli::kExitBadInput;
}
