#include "algorithms/early_stopping/curves.h"

#include <cmath>

#include "absl/strings/str_format.h"

namespace vernier::algorithms {

bool IsBetterValue(v1::ObjectiveSpec::Goal goal, double a, double b) {
  return goal == v1::ObjectiveSpec::MINIMIZE ? a < b : a > b;
}

std::optional<StepValue> BestUpTo(const LearningCurve& curve,
                                  v1::ObjectiveSpec::Goal goal, int64_t step) {
  std::optional<StepValue> best;
  for (auto it = curve.begin(); it != curve.end() && it->first <= step; ++it) {
    if (!std::isfinite(it->second)) continue;
    if (!best.has_value() || IsBetterValue(goal, it->second, best->value)) {
      best = StepValue{it->first, it->second};
    }
  }
  return best;
}

std::optional<int64_t> FirstStepAtOrAfter(const LearningCurve& curve,
                                          int64_t step) {
  auto it = curve.lower_bound(step);
  if (it == curve.end()) return std::nullopt;
  return it->first;
}

std::string FormatValue(double value) { return absl::StrFormat("%.6g", value); }

}  // namespace vernier::algorithms
