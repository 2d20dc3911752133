// Optuna's side of the benchmarks: runs optuna_report.py (bench/ingest) and
// bo_optuna.py (bench/bo_quality, bench/bo_latency) under Debian's
// /usr/bin/python3 (python3-optuna) and reads what it measured.
#ifndef VERNIER_BENCH_OPTUNA_SIDE_H_
#define VERNIER_BENCH_OPTUNA_SIDE_H_

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace vernier::bench {

struct OptunaResult {
  std::string version;
  int64_t window_reports = 0;  // reports returned inside the window
  double rate = 0;             // window_reports per second
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
  int64_t reported = 0;   // reports that returned, warm-up included
  int64_t stored = 0;     // rows in trial_intermediate_values afterwards
  int64_t errors = 0;     // reports that raised
  bool verified = false;  // every returned report is stored
};

// Runs `script` under /usr/bin/python3 with `arguments` (already quoted for
// the shell) and parses the last line it prints as a JSON object.
// UNAVAILABLE when it cannot run or fails; INTERNAL when that line is not a
// JSON object.
absl::StatusOr<nlohmann::json> RunPythonForJson(const std::string& script,
                                                const std::string& arguments);

// Runs `script` with `processes` reporting processes for `warmup` plus
// `seconds`, on a study stored at `db_path` (replaced). UNAVAILABLE when the
// script cannot run or fails; INTERNAL when its output cannot be read.
absl::StatusOr<OptunaResult> RunOptuna(const std::string& script, int processes,
                                       double seconds, double warmup,
                                       const std::string& db_path);

}  // namespace vernier::bench

#endif  // VERNIER_BENCH_OPTUNA_SIDE_H_
