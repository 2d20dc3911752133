#include "controller/early_stopper.h"

#include <utility>

#include "algorithms/early_stopping/curves.h"

namespace vernier::controller {

absl::StatusOr<std::unique_ptr<EarlyStopper>> EarlyStopper::Create(
    const v1::StudySpec& spec) {
  if (!spec.has_early_stopping()) return std::unique_ptr<EarlyStopper>();
  absl::StatusOr<std::unique_ptr<algorithms::EarlyStoppingRule>> rule =
      algorithms::CreateEarlyStoppingRule(
          spec.early_stopping().name(),
          algorithms::EarlyStoppingContext{
              .objective = spec.objective(),
              .settings = spec.early_stopping().settings(),
          });
  if (!rule.ok()) return rule.status();
  return std::make_unique<EarlyStopper>(spec, *std::move(rule));
}

EarlyStopper::EarlyStopper(const v1::StudySpec& spec,
                           std::unique_ptr<algorithms::EarlyStoppingRule> rule)
    : rule_name_(spec.early_stopping().name()),
      metric_(spec.objective().metric()),
      goal_(spec.objective().goal()),
      rule_(std::move(rule)) {}

void EarlyStopper::AddLocked(int64_t trial_id,
                             const std::vector<v1::Measurement>& measurements) {
  for (const v1::Measurement& measurement : measurements) {
    auto value = measurement.metrics().find(metric_);
    if (value == measurement.metrics().end()) continue;
    curves_[trial_id][measurement.step()] = value->second;
  }
}

void EarlyStopper::Load(int64_t trial_id,
                        const std::vector<v1::Measurement>& measurements) {
  absl::MutexLock lock(&mutex_);
  AddLocked(trial_id, measurements);
}

std::optional<EarlyStopper::Decision> EarlyStopper::Observe(
    int64_t trial_id, const std::vector<v1::Measurement>& measurements) {
  absl::MutexLock lock(&mutex_);
  for (const v1::Measurement& measurement : measurements) {
    if (stopped_.contains(trial_id)) return std::nullopt;
    if (!measurement.metrics().contains(metric_)) continue;
    AddLocked(trial_id, {measurement});
    std::optional<algorithms::StopDecision> verdict =
        rule_->ShouldStop(curves_, trial_id, measurement.step());
    if (!verdict.has_value()) continue;
    stopped_.insert(trial_id);
    Decision decision;
    decision.early_stop.set_rule(rule_name_);
    decision.early_stop.set_step(measurement.step());
    decision.early_stop.set_reason(std::move(verdict->reason));
    // A rule stops only a trial with a finite value up to the step.
    if (std::optional<algorithms::StepValue> best = algorithms::BestUpTo(
            curves_[trial_id], goal_, measurement.step())) {
      decision.early_stop.set_best_step(best->step);
      decision.best_value = best->value;
    }
    return decision;
  }
  return std::nullopt;
}

void EarlyStopper::Restart(int64_t trial_id) {
  absl::MutexLock lock(&mutex_);
  curves_.erase(trial_id);
  stopped_.erase(trial_id);
}

}  // namespace vernier::controller
