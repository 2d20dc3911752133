// ASHA, the asynchronous successive halving algorithm (Li et al., "A System
// for Massively Parallel Hyperparameter Tuning", 2020), in its stopping form
// (as Ray Tune's ASHA scheduler and Optuna's SuccessiveHalvingPruner use it).
//
// Rungs lie at steps min_step * reduction_factor^k (k = 0, 1, ...) below
// max_step; with {min_step: 1, max_step: 81, reduction_factor: 3} they are 1,
// 3, 9 and 27, and a trial that passes them all runs to its own end. A trial
// reaches rung r at its first report of a step >= r; its value at the rung is
// its best up to that step. The decision is made then, once per rung, among
// the trials that have reached the rung so far (itself included): it goes on
// when its value is among the best max(1, floor(n / reduction_factor)) of
// those n values (ties go on), and stops otherwise. So the first trial at a
// rung always goes on, and no trial waits for a rung to fill: promotion is
// asynchronous. A report that jumps past several rungs is judged at each, in
// order. A trial with no finite value up to the rung is not judged there.
//
// Settings (YAML `early_stopping: {name: asha, settings: {...}}`):
//   min_step: 1           # the first rung; >= 1
//   max_step: 81          # required: the step a full trial reaches
//   reduction_factor: 3   # an integer >= 2; min_step * reduction_factor
//                         #   must not exceed max_step
#ifndef VERNIER_ALGORITHMS_EARLY_STOPPING_ASHA_H_
#define VERNIER_ALGORITHMS_EARLY_STOPPING_ASHA_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "algorithms/early_stopping/early_stopping_rule.h"

namespace vernier::algorithms {

inline constexpr int64_t kAshaDefaultMinStep = 1;
inline constexpr int64_t kAshaDefaultReductionFactor = 3;

// The rungs: min_step * reduction_factor^k below max_step, ascending. Needs
// min_step >= 1 and reduction_factor >= 2.
std::vector<int64_t> AshaRungs(int64_t min_step, int64_t max_step,
                               int64_t reduction_factor);

// INVALID_ARGUMENT "settings.KEY: ..." for an unknown, missing or malformed
// setting, and for rungs that do not fit below max_step.
absl::StatusOr<std::unique_ptr<EarlyStoppingRule>> CreateAsha(
    const EarlyStoppingContext& context);

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_EARLY_STOPPING_ASHA_H_
