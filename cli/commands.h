// The `vernier` subcommands. Each returns the process exit status; each only
// turns arguments into calls on the modules and their results into text.
#ifndef VERNIER_CLI_COMMANDS_H_
#define VERNIER_CLI_COMMANDS_H_

#include <string>

namespace vernier::cli {

// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitStudyFailed = 1;  // the study ended FAILED
inline constexpr int kExitBadInput = 2;     // invalid YAML, unknown study...
inline constexpr int kExitError = 3;        // storage or system failure

struct RunArgs {
  std::string yaml_path;
  std::string db_path;
};
int Run(const RunArgs& args);

int Validate(const std::string& yaml_path);

struct QueryArgs {
  std::string db_path;
  std::string study;  // empty: the database's only study
  bool json = false;
};
int ListStudies(const QueryArgs& args);
int ListTrials(const QueryArgs& args);
int ShowBest(const QueryArgs& args);

}  // namespace vernier::cli

#endif  // VERNIER_CLI_COMMANDS_H_
