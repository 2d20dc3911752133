// The stdout metric collector's parser: finds metric values in one line that
// a worker printed, for training code that reports by printing instead of
// through the client library.
//
// Accepted forms, anywhere in the line:
//   accuracy=0.97 fit_seconds=1.2      separators: whitespace, ',' or ';'
//   loss = 0.5                         spaces around '='
//   Epoch 3: step=3 loss=0.51          tokens inside other text
//   {"step": 3, "loss": 0.5}           a JSON object (the whole line)
// Values: integers, decimals, scientific notation, nan/NaN, inf/-inf/Infinity
// (in JSON also as bare NaN/Infinity, as Python's json module writes them, or
// as strings). `step=N`, N a non-negative integer, makes the line's values
// the intermediate measurement of step N; without it they are final values.
#ifndef VERNIER_TRIAL_RUNNER_STDOUT_METRICS_H_
#define VERNIER_TRIAL_RUNNER_STDOUT_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vernier::trial_runner {

// The metric values found in one line.
struct ParsedMetrics {
  std::optional<int64_t> step;  // set for an intermediate measurement
  std::map<std::string, double> metrics;
};

// The values in `line` of the metrics named in `metric_names` (and of no
// other name: `--C=3` echoed by a launcher is not the metric `C`). A key
// matches only as a whole token, so `val_loss=1` is not `loss`. A malformed
// value is skipped; a line whose step is not a non-negative integer is
// ignored whole, since its values cannot be attributed. When a name occurs
// twice, the last value wins. nullopt when the line holds no wanted metric.
// Never fails on any input. Thread-safe.
std::optional<ParsedMetrics> ParseMetricLine(
    absl::string_view line, const std::vector<std::string>& metric_names);

// `text` as a metric value: the whole of it must be a number in one of the
// forms above. nullopt otherwise.
std::optional<double> ParseMetricValue(absl::string_view text);

}  // namespace vernier::trial_runner

#endif  // VERNIER_TRIAL_RUNNER_STDOUT_METRICS_H_
