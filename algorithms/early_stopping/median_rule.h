// The median rule: stop a trial whose best value so far is worse than the
// median of the other trials' values at the same step (Katib's and Optuna's
// median stopping, on best-so-far values).
//
// Asked at step s (the step a trial just reported), the rule:
// 1. does nothing before `start_step`;
// 2. takes the trial's best up to s (nothing to judge without a finite one);
// 3. takes, for every other trial that has reached s (reported a step >= s)
//    and has a finite value at a step <= s, its best up to s: what that trial
//    had achieved by the same step;
// 4. does nothing while fewer than `min_trials` such trials exist;
// 5. stops the trial when its best is strictly worse than their median (the
//    mean of the two middle values for an even count). A tie goes on.
//
// Settings (YAML `early_stopping: {name: median, settings: {...}}`):
//   min_trials: 5   # other trials that must have reached the step; >= 1
//   start_step: 1   # no decision at earlier steps; >= 0
#ifndef VERNIER_ALGORITHMS_EARLY_STOPPING_MEDIAN_RULE_H_
#define VERNIER_ALGORITHMS_EARLY_STOPPING_MEDIAN_RULE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "algorithms/early_stopping/early_stopping_rule.h"

namespace vernier::algorithms {

inline constexpr int64_t kMedianDefaultMinTrials = 5;
inline constexpr int64_t kMedianDefaultStartStep = 1;

// INVALID_ARGUMENT "settings.KEY: ..." for an unknown or malformed setting.
absl::StatusOr<std::unique_ptr<EarlyStoppingRule>> CreateMedianRule(
    const EarlyStoppingContext& context);

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_EARLY_STOPPING_MEDIAN_RULE_H_
