#include "bench/optuna_side.h"

#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vernier::bench {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

std::string ShellQuote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace

absl::StatusOr<nlohmann::json> RunPythonForJson(const std::string& script,
                                                const std::string& arguments) {
  const std::string command =
      absl::StrCat(kPython, " ", ShellQuote(script), " ", arguments);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot run ", command));
  }
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
    output.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) {
    return absl::UnavailableError(
        absl::StrCat(command, " failed (status ", status, "): ", output));
  }
  std::vector<std::string> lines =
      absl::StrSplit(output, '\n', absl::SkipWhitespace());
  if (lines.empty()) {
    return absl::InternalError(absl::StrCat(command, " printed nothing"));
  }
  nlohmann::json json = nlohmann::json::parse(lines.back(), nullptr,
                                              /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InternalError(absl::StrCat("cannot read the output of ",
                                            command, ": ", lines.back()));
  }
  return json;
}

absl::StatusOr<OptunaResult> RunOptuna(const std::string& script, int processes,
                                       double seconds, double warmup,
                                       const std::string& db_path) {
  absl::StatusOr<nlohmann::json> output = RunPythonForJson(
      script, absl::StrCat("--processes ", processes, " --seconds ", seconds,
                           " --warmup ", warmup, " --db ", ShellQuote(db_path)));
  if (!output.ok()) return output.status();
  const nlohmann::json& json = *output;
  OptunaResult result;
  result.version = json.value("optuna", "");
  result.window_reports = json.value("window_reports", int64_t{0});
  result.rate = json.value("rate", 0.0);
  result.p50_ms = json.value("p50_ms", 0.0);
  result.p95_ms = json.value("p95_ms", 0.0);
  result.p99_ms = json.value("p99_ms", 0.0);
  result.reported = json.value("reported", int64_t{0});
  result.stored = json.value("stored", int64_t{0});
  result.errors = json.value("errors", int64_t{0});
  result.verified = json.value("verified", false);
  return result;
}

}  // namespace vernier::bench
