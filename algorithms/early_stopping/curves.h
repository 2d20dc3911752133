// Reading learning curves: the questions the rules (and the controller, for
// the value a stopped trial keeps) ask of a trial's values.
#ifndef VERNIER_ALGORITHMS_EARLY_STOPPING_CURVES_H_
#define VERNIER_ALGORITHMS_EARLY_STOPPING_CURVES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "algorithms/early_stopping/early_stopping_rule.h"
#include "vernier/v1/study.pb.h"

namespace vernier::algorithms {

// A finite value of a curve and the step it was reported at.
struct StepValue {
  int64_t step = 0;
  double value = 0;
};

// True when `a` is strictly better than `b` for `goal`.
bool IsBetterValue(v1::ObjectiveSpec::Goal goal, double a, double b);

// The best finite value of `curve` at steps <= `step` (ties go to the earlier
// step); nullopt when there is none.
std::optional<StepValue> BestUpTo(const LearningCurve& curve,
                                  v1::ObjectiveSpec::Goal goal, int64_t step);

// The smallest step of `curve` that is >= `step`, if any: the report at which
// the trial reached `step`.
std::optional<int64_t> FirstStepAtOrAfter(const LearningCurve& curve,
                                          int64_t step);

// A value as reasons print it: "0.4123", "1e-05".
std::string FormatValue(double value);

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_EARLY_STOPPING_CURVES_H_
