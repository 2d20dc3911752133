#include "algorithms/early_stopping/asha.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "algorithms/early_stopping/curves.h"
#include "algorithms/early_stopping/rule_settings.h"

namespace vernier::algorithms {
namespace {

class Asha final : public EarlyStoppingRule {
 public:
  Asha(v1::ObjectiveSpec::Goal goal, std::vector<int64_t> rungs,
       int64_t reduction_factor)
      : goal_(goal),
        rungs_(std::move(rungs)),
        reduction_factor_(reduction_factor) {}

  std::optional<StopDecision> ShouldStop(const CurveHistory& history,
                                         int64_t trial_id,
                                         int64_t step) const override {
    auto own = history.find(trial_id);
    if (own == history.end()) return std::nullopt;
    for (int64_t rung : rungs_) {
      if (rung > step) break;
      // Judged once per rung: at the report that reached it.
      if (FirstStepAtOrAfter(own->second, rung) != step) continue;
      if (auto decision = JudgeAtRung(history, trial_id, rung)) {
        return decision;
      }
    }
    return std::nullopt;
  }

 private:
  // The trial's value at `rung`: its best up to the report that reached it.
  std::optional<double> RungValue(const LearningCurve& curve,
                                  int64_t rung) const {
    const std::optional<int64_t> reached = FirstStepAtOrAfter(curve, rung);
    if (!reached.has_value()) return std::nullopt;
    const std::optional<StepValue> best = BestUpTo(curve, goal_, *reached);
    if (!best.has_value()) return std::nullopt;
    return best->value;
  }

  std::optional<StopDecision> JudgeAtRung(const CurveHistory& history,
                                          int64_t trial_id,
                                          int64_t rung) const {
    const std::optional<double> value = RungValue(history.at(trial_id), rung);
    if (!value.has_value()) return std::nullopt;
    std::vector<double> values;
    for (const auto& [id, curve] : history) {
      if (std::optional<double> theirs = RungValue(curve, rung)) {
        values.push_back(*theirs);
      }
    }
    const size_t n = values.size();
    const size_t keep = std::max<size_t>(1, n / reduction_factor_);
    // Best first.
    std::sort(values.begin(), values.end(), [this](double a, double b) {
      return IsBetterValue(goal_, a, b);
    });
    const double cutoff = values[keep - 1];
    if (!IsBetterValue(goal_, cutoff, *value)) return std::nullopt;
    return StopDecision{absl::StrFormat(
        "best %s by rung %d is not among the best %d of the %d trials that "
        "reached it (cutoff %s)",
        FormatValue(*value), rung, keep, n, FormatValue(cutoff))};
  }

  const v1::ObjectiveSpec::Goal goal_;
  const std::vector<int64_t> rungs_;
  const int64_t reduction_factor_;
};

}  // namespace

std::vector<int64_t> AshaRungs(int64_t min_step, int64_t max_step,
                               int64_t reduction_factor) {
  std::vector<int64_t> rungs;
  for (int64_t rung = min_step; rung < max_step;) {
    rungs.push_back(rung);
    if (rung > max_step / reduction_factor) break;  // next would pass max_step
    rung *= reduction_factor;
  }
  return rungs;
}

absl::StatusOr<std::unique_ptr<EarlyStoppingRule>> CreateAsha(
    const EarlyStoppingContext& context) {
  if (absl::Status known =
          CheckRuleSettings("asha", context.settings,
                            {"min_step", "max_step", "reduction_factor"});
      !known.ok()) {
    return known;
  }
  absl::StatusOr<std::optional<int64_t>> min_step =
      IntegerSetting(context.settings, "min_step", 1);
  if (!min_step.ok()) return min_step.status();
  absl::StatusOr<std::optional<int64_t>> max_step =
      IntegerSetting(context.settings, "max_step", 1);
  if (!max_step.ok()) return max_step.status();
  if (!max_step->has_value()) {
    return absl::InvalidArgumentError(
        "settings.max_step: required: the step a trial that is never stopped "
        "reaches");
  }
  absl::StatusOr<std::optional<int64_t>> reduction_factor =
      IntegerSetting(context.settings, "reduction_factor", 2);
  if (!reduction_factor.ok()) return reduction_factor.status();
  const int64_t first = min_step->value_or(kAshaDefaultMinStep);
  const int64_t last = **max_step;
  const int64_t factor =
      reduction_factor->value_or(kAshaDefaultReductionFactor);
  if (first > last / factor) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "settings.max_step: the rungs do not fit: min_step (%d) times "
        "reduction_factor (%d), the second rung, must not exceed max_step "
        "(%d)",
        first, factor, last));
  }
  return std::make_unique<Asha>(context.objective.goal(),
                                AshaRungs(first, last, factor), factor);
}

}  // namespace vernier::algorithms
