// Fuzz target: the stdout metric parser (trial-runner/stdout_metrics.h), which
// reads every line a local worker prints. Input: one line, read for the
// metrics that the seed lines use; also each whitespace-free token as a value.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "trial-runner/stdout_metrics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> kNames = {
      "loss", "accuracy", "val_loss", "fit_seconds", "C", "lr", "x"};
  const absl::string_view line(reinterpret_cast<const char*>(data), size);
  std::optional<vernier::trial_runner::ParsedMetrics> parsed =
      vernier::trial_runner::ParseMetricLine(line, kNames);
  if (parsed.has_value()) {
    // The contract: only wanted names, and a step is never negative.
    for (const auto& [name, value] : parsed->metrics) {
      if (std::find(kNames.begin(), kNames.end(), name) == kNames.end()) {
        std::fprintf(stderr, "unwanted metric %s\n", name.c_str());
        std::abort();
      }
    }
    if (parsed->step.has_value() && *parsed->step < 0) {
      std::fprintf(stderr, "negative step\n");
      std::abort();
    }
  }
  for (absl::string_view token : absl::StrSplit(line, ' ')) {
    vernier::trial_runner::ParseMetricValue(token);
  }
  return 0;
}
