// Early stopping: the study loop's side of it. The rule judges reports as
// they arrive (EarlyStopper); a trial it stops is told on its reports and,
// after trials.stop_grace, stopped through the executor; it ends STOPPED with
// the rule, the step and its best value up to that step.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "controller/proto_time.h"
#include "controller/study_controller_impl.h"
#include "spdlog/spdlog.h"

namespace vernier::controller::internal {

std::optional<EarlyStopper::Decision> StudyControllerImpl::JudgeForEarlyStop(
    int64_t trial_id, const std::vector<v1::Measurement>& measurements) {
  if (early_stopper_ == nullptr) return std::nullopt;
  std::optional<EarlyStopper::Decision> decision =
      early_stopper_->Observe(trial_id, measurements);
  if (decision.has_value() && options_.registry != nullptr) {
    options_.registry->MarkShouldStop(trial_id);
  }
  return decision;
}

absl::Status StudyControllerImpl::LoadLearningCurves() {
  if (early_stopper_ == nullptr) return absl::OkStatus();
  for (const auto& [id, trial] : trials_) {
    if (!IsFinal(trial.state())) continue;  // runs again from its start
    absl::StatusOr<std::vector<v1::Measurement>> measurements =
        store_->ListMeasurements(id);
    if (!measurements.ok()) return measurements.status();
    early_stopper_->Load(id, *measurements);
  }
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::Handle(const EarlyStopDecided& event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  if (trial == nullptr || trial->state() != v1::Trial::RUNNING ||
      early_stopping_.contains(trial->id())) {
    return absl::OkStatus();
  }
  const v1::EarlyStop& early_stop = event.decision.early_stop;
  spdlog::info("study {}: trial {} stopped early by {} at step {}: {}",
               study_.name(), trial->number(), early_stop.rule(),
               early_stop.step(), early_stop.reason());
  EarlyStopping& stopping = early_stopping_[trial->id()];
  stopping.decision = event.decision;
  if (spec().worker().metrics().collector() == v1::MetricsSpec::PUSH) {
    // It learns from its reports' should_stop, and may exit by itself.
    stopping.grace_end = options_.now() + stop_grace();
  } else {
    // Training code that only prints has no way to learn it.
    executor_->Stop(trial->id());
  }
  return absl::OkStatus();
}

void StudyControllerImpl::StopWorkersPastGrace() {
  if (early_stopping_.empty()) return;
  const absl::Time now = options_.now();
  for (auto& [id, stopping] : early_stopping_) {
    if (!stopping.grace_end.has_value() || *stopping.grace_end > now) continue;
    stopping.grace_end.reset();
    spdlog::info(
        "study {}: trial {} still runs {} after it was told to stop; "
        "stopping its worker",
        study_.name(), trials_.at(id).number(),
        absl::FormatDuration(stop_grace()));
    executor_->Stop(id);
  }
}

absl::Duration StudyControllerImpl::TimeToNextGraceEnd() const {
  absl::Duration wait = absl::Seconds(1);
  if (early_stopping_.empty()) return wait;
  const absl::Time now = options_.now();
  for (const auto& [id, stopping] : early_stopping_) {
    if (!stopping.grace_end.has_value()) continue;
    wait = std::min(wait,
                    std::max(absl::ZeroDuration(), *stopping.grace_end - now));
  }
  return wait;
}

void StudyControllerImpl::EndEarlyStopped(v1::Trial& trial) {
  auto it = early_stopping_.find(trial.id());
  const EarlyStopper::Decision& decision = it->second.decision;
  // As for a trial that ends by itself: metrics it gave no final value for
  // keep their last intermediate one.
  auto& finals = *trial.mutable_final_metrics();
  for (const auto& [name, value] : last_intermediate_[trial.id()]) {
    if (!finals.contains(name)) finals[name] = value;
  }
  trial.set_state(v1::Trial::STOPPED);
  *trial.mutable_early_stop() = decision.early_stop;
  trial.set_objective(decision.best_value);
  trial.set_state_message(absl::StrCat(
      "stopped early by ", decision.early_stop.rule(), " at step ",
      decision.early_stop.step(), ": ", decision.early_stop.reason()));
  early_stopping_.erase(it);
}

}  // namespace vernier::controller::internal
