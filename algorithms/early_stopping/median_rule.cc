#include "algorithms/early_stopping/median_rule.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_format.h"
#include "algorithms/early_stopping/curves.h"
#include "algorithms/early_stopping/rule_settings.h"

namespace vernier::algorithms {
namespace {

class MedianRule final : public EarlyStoppingRule {
 public:
  MedianRule(v1::ObjectiveSpec::Goal goal, int64_t min_trials,
             int64_t start_step)
      : goal_(goal), min_trials_(min_trials), start_step_(start_step) {}

  std::optional<StopDecision> ShouldStop(const CurveHistory& history,
                                         int64_t trial_id,
                                         int64_t step) const override {
    if (step < start_step_) return std::nullopt;
    auto own = history.find(trial_id);
    if (own == history.end()) return std::nullopt;
    const std::optional<StepValue> best = BestUpTo(own->second, goal_, step);
    if (!best.has_value()) return std::nullopt;

    std::vector<double> others;
    for (const auto& [id, curve] : history) {
      if (id == trial_id || !FirstStepAtOrAfter(curve, step).has_value()) {
        continue;
      }
      if (std::optional<StepValue> theirs = BestUpTo(curve, goal_, step)) {
        others.push_back(theirs->value);
      }
    }
    if (static_cast<int64_t>(others.size()) < min_trials_) return std::nullopt;
    std::sort(others.begin(), others.end());
    const size_t n = others.size();
    const double median =
        n % 2 == 1 ? others[n / 2] : (others[n / 2 - 1] + others[n / 2]) / 2;
    if (!IsBetterValue(goal_, median, best->value)) return std::nullopt;
    return StopDecision{absl::StrFormat(
        "best %s (step %d) is worse than the median %s of %d other trials at "
        "step %d",
        FormatValue(best->value), best->step, FormatValue(median), n, step)};
  }

 private:
  const v1::ObjectiveSpec::Goal goal_;
  const int64_t min_trials_;
  const int64_t start_step_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EarlyStoppingRule>> CreateMedianRule(
    const EarlyStoppingContext& context) {
  if (absl::Status known = CheckRuleSettings("median", context.settings,
                                             {"min_trials", "start_step"});
      !known.ok()) {
    return known;
  }
  absl::StatusOr<std::optional<int64_t>> min_trials =
      IntegerSetting(context.settings, "min_trials", 1);
  if (!min_trials.ok()) return min_trials.status();
  absl::StatusOr<std::optional<int64_t>> start_step =
      IntegerSetting(context.settings, "start_step", 0);
  if (!start_step.ok()) return start_step.status();
  return std::make_unique<MedianRule>(
      context.objective.goal(), min_trials->value_or(kMedianDefaultMinTrials),
      start_step->value_or(kMedianDefaultStartStep));
}

}  // namespace vernier::algorithms
