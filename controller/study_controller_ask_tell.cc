// Ask/tell: the study loop's side of StudyService.SuggestTrials and
// CompleteTrial, for studies whose worker.kind is NONE.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "controller/proto_time.h"
#include "controller/study_controller_impl.h"

namespace vernier::controller::internal {

absl::Status StudyControllerImpl::Handle(AskRequested event) {
  if (!ask_tell()) {
    event.done(absl::FailedPreconditionError(absl::StrCat(
        "study ", study_.name(),
        " runs its own workers; ask/tell needs worker.kind none")));
    return absl::OkStatus();
  }
  if (ending_ != Ending::kNone) {
    event.done(absl::FailedPreconditionError(
        absl::StrCat("study ", study_.name(), " is ending")));
    return absl::OkStatus();
  }
  asks_.push_back(std::move(event));
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::ServeAsks() {
  while (!asks_.empty() && !suggesting_) {
    AskRequested& ask = asks_.front();
    std::vector<v1::Trial> given;
    for (const auto& [id, trial] : trials_) {
      if (static_cast<int>(given.size()) >= ask.count) break;
      if (trial.state() == v1::Trial::RUNNING &&
          trial.client_id() == ask.client_id) {
        given.push_back(trial);
      }
    }
    const int wanted = std::min(ask.count - static_cast<int>(given.size()),
                                spec().trials().max() - Summary().created);
    // Ask the algorithm once for what is missing; this ask is answered when
    // the suggestions arrive (as trials handed to its client).
    if (wanted > 0 && !space_exhausted_ && !asked_algorithm_) {
      asked_algorithm_ = true;
      RequestSuggestions(wanted);
      return absl::OkStatus();
    }
    asked_algorithm_ = false;
    ask.done(std::move(given));
    asks_.pop_front();
  }
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::Handle(TellRequested event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  if (trial == nullptr) {
    event.done(absl::NotFoundError(absl::StrCat(
        "study ", study_.name(), " has no trial with id ", event.trial_id)));
    return absl::OkStatus();
  }
  if (trial->state() != v1::Trial::RUNNING) {
    event.done(absl::FailedPreconditionError(
        absl::StrCat("trial ", trial->number(), " has already ended (",
                     v1::Trial::State_Name(trial->state()), ")")));
    return absl::OkStatus();
  }
  const std::string& metric = spec().objective().metric();
  if (!event.infeasible && !event.metrics.contains(metric)) {
    event.done(absl::InvalidArgumentError(
        absl::StrCat("metrics: the objective '", metric,
                     "' is missing (or mark the trial infeasible)")));
    return absl::OkStatus();
  }
  // Changed in memory only once stored: a refused write leaves it RUNNING.
  v1::Trial told = *trial;
  for (const auto& [name, value] : event.metrics) {
    (*told.mutable_final_metrics())[name] = value;
  }
  *told.mutable_end_time() = ToProto(options_.now());
  if (event.infeasible) {
    told.set_state(v1::Trial::INFEASIBLE);
    told.set_state_message(event.infeasible_reason.empty()
                               ? "marked infeasible by its client"
                               : event.infeasible_reason);
  } else {
    const double objective = event.metrics.at(metric);
    told.set_objective(objective);
    told.set_state(std::isfinite(objective) ? v1::Trial::SUCCEEDED
                                            : v1::Trial::INFEASIBLE);
    if (!std::isfinite(objective)) {
      told.set_state_message(absl::StrCat(metric, " is not finite"));
    }
  }
  if (absl::Status s = store_->UpdateTrial(told); !s.ok()) {
    event.done(s);
    // The disk is full or the database read-only: the client may tell again.
    return absl::IsUnavailable(s) ? absl::OkStatus() : s;
  }
  *trial = std::move(told);
  event.done(*trial);
  if (options_.on_trial_finished) options_.on_trial_finished(*trial);
  CheckEndConditions();
  return absl::OkStatus();
}

}  // namespace vernier::controller::internal
