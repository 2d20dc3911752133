#include "controller/study_controller.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "algorithms/algorithm.h"
#include "controller/event_queue.h"
#include "controller/proto_time.h"
#include "controller/study_controller_impl.h"
#include "controller/trial_launch.h"
#include "google/protobuf/util/message_differencer.h"
#include "spdlog/spdlog.h"
#include "trial-runner/params_template.h"

namespace vernier::controller {
namespace internal {
namespace {

std::string SignalName(int signal) {
  const char* name = sigabbrev_np(signal);
  return name != nullptr ? absl::StrCat("SIG", name) : absl::StrCat(signal);
}

}  // namespace

absl::Duration StudyControllerImpl::stop_grace() const {
  return StopGrace(spec().trials());
}

absl::StatusOr<v1::Study> StudyControllerImpl::Run() {
  started_at_ = options_.now();
  if (study_.state() == v1::Study::DONE ||
      study_.state() == v1::Study::FAILED) {
    return study_;
  }
  absl::Status status = Recover();
  if (status.ok()) status = Advance();
  while (status.ok() && !finished_) {
    std::optional<Event> event = events_.Pop(TimeToNextGraceEnd());
    // Reports are the hot path and change no trial's state: nothing to
    // advance or show after them.
    const bool changes_state =
        !event.has_value() ||
        !std::holds_alternative<MeasurementsReported>(*event);
    if (event.has_value()) status = Handle(std::move(*event));
    StopWorkersPastGrace();
    if (!changes_state) continue;
    if (status.ok() && !finished_) status = Advance();
    ReportProgress();
  }
  if (!status.ok()) {
    spdlog::error("study {}: {}", study_.name(), status.ToString());
    AbandonWorkers();
    for (AskRequested& ask : asks_) ask.done(status);
    return status;
  }
  for (AskRequested& ask : asks_) {
    ask.done(absl::FailedPreconditionError(
        absl::StrCat("study ", study_.name(), " has ended")));
  }
  ReportProgress();
  return study_;
}

void StudyControllerImpl::AbandonWorkers() {
  StopRunningWorkers();
  const absl::Time deadline = absl::Now() + stop_grace() + absl::Seconds(5);
  while (Summary().running > 0 && absl::Now() < deadline) {
    std::optional<Event> event = events_.Pop(absl::Milliseconds(100));
    if (!event.has_value()) continue;
    auto* executor_event = std::get_if<ExecutorEvent>(&*event);
    if (executor_event == nullptr) continue;
    if (auto* exited = std::get_if<WorkerExited>(executor_event)) {
      if (v1::Trial* trial = FindTrial(exited->trial_id)) {
        trial->set_state(v1::Trial::PENDING);
      }
      ReleaseFor(exited->trial_id);
      if (options_.registry != nullptr)
        options_.registry->Remove(exited->trial_id);
    }
  }
}

void StudyControllerImpl::StopRunningWorkers() {
  if (executor_ == nullptr) return;
  for (const auto& [id, trial] : trials_) {
    if (trial.state() != v1::Trial::RUNNING) continue;
    if (options_.registry != nullptr) options_.registry->MarkShouldStop(id);
    executor_->Stop(id);
  }
}

absl::Status StudyControllerImpl::Recover() {
  absl::StatusOr<std::vector<v1::Trial>> trials =
      store_->ListTrials(study_.id());
  if (!trials.ok()) return trials.status();
  std::map<int64_t, trial_runner::AdoptedWorker> adopted;
  if (!ask_tell()) {
    absl::StatusOr<std::map<int64_t, trial_runner::AdoptedWorker>> taken =
        AdoptWorkers(*trials);
    if (!taken.ok()) return taken.status();
    adopted = *std::move(taken);
  }
  for (v1::Trial& trial : *trials) {
    if (adopted.contains(trial.id())) {
      if (absl::Status s = Readopt(trial, adopted.at(trial.id()).token);
          !s.ok()) {
        return s;
      }
    } else if (trial.state() == v1::Trial::RUNNING && !ask_tell()) {
      // An ask/tell trial stays with its client, which may still complete it.
      if (absl::Status reclaimed = executor_->Reclaim(trial); !reclaimed.ok()) {
        return reclaimed;
      }
      // Its worker held its devices until now: charged once, in this write.
      ChargeAttempt(trial, options_.now());
      const std::string& metric = spec().objective().metric();
      if (trial.final_metrics().contains(metric)) {
        // Its worker's FinishTrial was acknowledged: that result stands, and
        // running the trial again would overwrite it.
        spdlog::info("study {}: trial {} had completed when the last run ended",
                     study_.name(), trial.number());
        EndWithAcknowledgedResult(trial);
      } else {
        spdlog::info(
            "study {}: trial {} was running when the last run ended; "
            "it runs again",
            study_.name(), trial.number());
        trial.set_state(v1::Trial::PENDING);
        trial.set_state_message("interrupted; runs again");
      }
      trial.clear_local_worker();
      if (absl::Status s = store_->UpdateTrial(trial); !s.ok()) return s;
    }
    trials_[trial.id()] = std::move(trial);
  }
  if (absl::Status s = LoadLearningCurves(); !s.ok()) return s;
  if (study_.state() == v1::Study::STOPPED) {
    study_.set_state(v1::Study::ACTIVE);
    study_.set_end_reason(v1::Study::END_REASON_UNSPECIFIED);
    study_.clear_state_message();
    study_.clear_end_time();
    if (absl::Status s = store_->UpdateStudy(study_); !s.ok()) return s;
  }
  CheckEndConditions();
  return absl::OkStatus();
}

void StudyControllerImpl::EndWithAcknowledgedResult(v1::Trial& trial) {
  const double objective =
      trial.final_metrics().at(spec().objective().metric());
  trial.set_objective(objective);
  *trial.mutable_end_time() = ToProto(options_.now());
  if (std::isfinite(objective)) {
    trial.set_state(v1::Trial::SUCCEEDED);
    trial.set_state_message(
        "completed; the server ended before its worker exited");
  } else {
    trial.set_state(v1::Trial::INFEASIBLE);
    trial.set_state_message(
        absl::StrCat(spec().objective().metric(), " is not finite"));
  }
}

absl::StatusOr<std::map<int64_t, trial_runner::AdoptedWorker>>
StudyControllerImpl::AdoptWorkers(const std::vector<v1::Trial>& trials) {
  std::vector<trial_runner::TrialLaunch> running;
  for (const v1::Trial& trial : trials) {
    if (trial.state() != v1::Trial::RUNNING) continue;
    absl::StatusOr<trial_runner::TrialLaunch> launch = MakeLaunch(trial);
    if (!launch.ok()) return launch.status();
    running.push_back(*std::move(launch));
  }
  return executor_->Adopt(running);
}

absl::Status StudyControllerImpl::Readopt(const v1::Trial& trial,
                                          std::string token) {
  spdlog::info("study {}: trial {} still runs; following its worker again",
               study_.name(), trial.number());
  // Its reports so far: the last value of each metric stands in for a
  // final one it never reports, and the early-stopping rule sees its curve.
  absl::StatusOr<std::vector<v1::Measurement>> measurements =
      store_->ListMeasurements(trial.id());
  if (!measurements.ok()) return measurements.status();
  std::vector<v1::Measurement> by_step = *measurements;
  std::stable_sort(by_step.begin(), by_step.end(),
                   [](const v1::Measurement& a, const v1::Measurement& b) {
                     return a.step() < b.step();
                   });
  for (const v1::Measurement& measurement : by_step) {
    for (const auto& [name, value] : measurement.metrics()) {
      last_intermediate_[trial.id()][name] = value;
    }
  }
  if (early_stopper_ != nullptr) {
    early_stopper_->Restart(trial.id());
    early_stopper_->Load(trial.id(), by_step);
  }
  // It runs, so it counts against the server's caps like any running trial
  // (released when its worker ends). It runs on even when the caps are full
  // (lowered since it started): stopping it would lose its work.
  if (options_.run_limits != nullptr) {
    std::string waiting_for;
    std::optional<RunLimits::Grant> slots = options_.run_limits->TryAcquire(
        study_.id(), spec().labels(), &waiting_for);
    if (slots.has_value()) {
      held_[trial.id()].run_slots = *std::move(slots);
    } else {
      options_.run_limits->Withdraw(study_.id());
      spdlog::warn("study {}: trial {} runs beyond {}", study_.name(),
                   trial.number(), waiting_for);
    }
  }
  if (options_.registry != nullptr) {
    options_.registry->Add(trial.id(), TrialRegistry::Entry{
                                           .study_id = study_.id(),
                                           .token = std::move(token),
                                           .controller = this,
                                       });
  }
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::Advance() {
  if (finished_) return absl::OkStatus();
  StudySummary summary = Summary();
  if (ending_ != Ending::kNone) {
    const bool waiting_for_workers = summary.running > 0 && !ask_tell();
    if (!waiting_for_workers && !suggesting_) return FinishStudy();
    return absl::OkStatus();
  }
  if (ask_tell()) {
    if (absl::Status s = ServeAsks(); !s.ok()) return s;
    CheckEndConditions();
    if (ending_ != Ending::kNone && !suggesting_) return FinishStudy();
    return absl::OkStatus();
  }
  // Launch pending trials in number order while slots are free and their
  // devices, the server's caps and the budget allow. The first that must
  // wait says why, once, in its state message.
  int running = summary.running;
  for (auto& [id, trial] : trials_) {
    if (running >= parallel()) break;
    if (trial.state() != v1::Trial::PENDING) continue;
    std::string waiting_for;
    if (!AcquireFor(trial, &waiting_for)) {
      if (absl::Status s = ShowWaiting(trial, waiting_for); !s.ok()) return s;
      break;
    }
    if (absl::Status s = Launch(trial); !s.ok()) {
      ReleaseFor(trial.id());
      return s;
    }
    ++running;
  }
  summary = Summary();
  if (summary.pending == 0) WithdrawFromPools();
  const int free_slots = parallel() - summary.running - summary.pending;
  const int unassigned = spec().trials().max() - summary.created;
  // Never more trials than the budget can start: a trial suggested and
  // then never run would end STOPPED for nothing.
  const int room = BudgetRoom();
  const int affordable = room == std::numeric_limits<int>::max()
                             ? room
                             : room - summary.pending;
  const int wanted = std::min({free_slots, unassigned, affordable});
  if (!suggesting_ && !space_exhausted_ && wanted > 0) {
    RequestSuggestions(wanted);
  }
  CheckBudget();
  CheckEndConditions();
  if (ending_ != Ending::kNone && Summary().running == 0 && !suggesting_) {
    return FinishStudy();
  }
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::ShowWaiting(v1::Trial& trial,
                                              const std::string& waiting_for) {
  constexpr absl::string_view kWaiting = "waiting for ";
  const std::string message = absl::StrCat(kWaiting, waiting_for);
  if (trial.state_message() == message ||
      !(trial.state_message().empty() ||
        absl::StartsWith(trial.state_message(), kWaiting))) {
    return absl::OkStatus();
  }
  trial.set_state_message(message);
  return store_->UpdateTrial(trial);
}

absl::StatusOr<trial_runner::TrialLaunch> StudyControllerImpl::MakeLaunch(
    const v1::Trial& trial) const {
  absl::StatusOr<trial_runner::TrialLaunch> basics =
      LaunchBasics(spec(), trial);
  if (!basics.ok()) return basics.status();
  trial_runner::TrialLaunch launch = *std::move(basics);
  if (!options_.python_client_path.empty()) {
    // The user's own entries (the study's env, else ours) stay after it.
    std::string user_path;
    if (auto it = launch.env.find("PYTHONPATH"); it != launch.env.end()) {
      user_path = it->second;
    } else if (const char* inherited = std::getenv("PYTHONPATH")) {
      user_path = inherited;
    }
    launch.env["PYTHONPATH"] =
        user_path.empty()
            ? options_.python_client_path
            : absl::StrCat(options_.python_client_path, ":", user_path);
  }
  if (options_.registry != nullptr) {
    launch.env["VERNIER_ENDPOINT"] = options_.report_endpoint;
    if (!options_.report_tls_ca.empty()) {
      launch.env["VERNIER_TLS_CA"] = options_.report_tls_ca;
    }
  }
  launch.working_dir = spec().worker().working_dir();
  const std::filesystem::path log_dir =
      std::filesystem::path(options_.log_dir) / study_.name();
  std::error_code error;
  std::filesystem::create_directories(log_dir, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create the log folder ",
                                               log_dir.string(), ": ",
                                               error.message()));
  }
  launch.log_path =
      (log_dir / absl::StrCat("trial-", trial.number(), ".log")).string();
  if (spec().trials().has_max_runtime()) {
    launch.max_runtime = FromProto(spec().trials().max_runtime());
  }
  launch.stop_grace = stop_grace();
  launch.collect_stdout =
      spec().worker().metrics().collector() != v1::MetricsSpec::PUSH;
  launch.metric_names.push_back(spec().objective().metric());
  for (const std::string& name : spec().objective().additional_metrics()) {
    launch.metric_names.push_back(name);
  }
  return launch;
}

absl::Status StudyControllerImpl::Launch(v1::Trial& trial) {
  absl::StatusOr<trial_runner::TrialLaunch> made = MakeLaunch(trial);
  if (!made.ok()) return made.status();
  trial_runner::TrialLaunch launch = *std::move(made);
  std::string token;
  if (options_.registry != nullptr) {
    token = NewTrialToken();
    launch.env["VERNIER_TOKEN"] = token;
  }
  AssignDevices(trial, launch);

  // The row says RUNNING, durably, before the worker exists.
  trial.set_state(v1::Trial::RUNNING);
  trial.set_state_message("");
  trial.set_attempt(trial.attempt() + 1);
  *trial.mutable_start_time() = ToProto(options_.now());
  trial.clear_end_time();
  trial.clear_exit_code();
  trial.clear_exit_signal();
  trial.clear_objective();
  trial.clear_final_metrics();
  trial.clear_log_tail();
  trial.clear_local_worker();
  trial.clear_kubernetes_job();
  trial.clear_run_start_time();
  trial.set_log_path(launch.log_path);
  if (absl::Status s = store_->UpdateTrial(trial); !s.ok()) return s;
  last_intermediate_.erase(trial.id());
  if (early_stopper_ != nullptr) early_stopper_->Restart(trial.id());
  if (options_.registry != nullptr) {
    options_.registry->Add(trial.id(), TrialRegistry::Entry{
                                           .study_id = study_.id(),
                                           .token = std::move(token),
                                           .controller = this,
                                       });
  }
  spdlog::debug("study {}: launching trial {}", study_.name(), trial.number());
  executor_->Launch(std::move(launch));
  return absl::OkStatus();
}

void StudyControllerImpl::RequestSuggestions(int count) {
  if (suggest_thread_.joinable()) suggest_thread_.join();
  suggesting_ = true;
  suggest_thread_ = std::thread([this, history = Trials(), count]() {
    const absl::Time start = absl::Now();
    auto suggestions = algorithm_->Suggest(history, count);
    if (options_.on_suggestion) options_.on_suggestion(absl::Now() - start);
    events_.Post(SuggestionsReady{std::move(suggestions), count});
  });
}

absl::Status StudyControllerImpl::Handle(Event event) {
  if (auto* executor_event = std::get_if<ExecutorEvent>(&event)) {
    return std::visit([this](const auto& e) { return Handle(e); },
                      *executor_event);
  }
  if (std::holds_alternative<StopRequested>(event)) {
    return HandleStopRequest(Ending::kUserStop);
  }
  if (std::holds_alternative<ShutdownRequested>(event)) {
    return HandleStopRequest(Ending::kShutdown);
  }
  if (auto* ready = std::get_if<SuggestionsReady>(&event)) {
    return Handle(std::move(*ready));
  }
  if (auto* reported = std::get_if<MeasurementsReported>(&event)) {
    return Handle(*reported);
  }
  if (auto* early_stop = std::get_if<EarlyStopDecided>(&event)) {
    return Handle(*early_stop);
  }
  if (auto* finish = std::get_if<FinishRequested>(&event)) {
    return Handle(std::move(*finish));
  }
  if (auto* ask = std::get_if<AskRequested>(&event)) {
    return Handle(std::move(*ask));
  }
  if (auto* stop = std::get_if<TrialStopRequested>(&event)) {
    return Handle(std::move(*stop));
  }
  return Handle(std::get<TellRequested>(std::move(event)));
}

absl::Status StudyControllerImpl::Handle(TrialStopRequested event) {
  auto it = trials_.find(event.trial_id);
  if (it == trials_.end()) {
    event.done(absl::NotFoundError(absl::StrCat(
        "trial ", event.trial_id, " is not a trial of study ", study_.name())));
    return absl::OkStatus();
  }
  v1::Trial& trial = it->second;
  if (ask_tell()) {
    event.done(absl::FailedPreconditionError(
        absl::StrCat("trial ", trial.number(),
                     " belongs to an ask/tell client, which ends it")));
    return absl::OkStatus();
  }
  if (trial.state() == v1::Trial::PENDING) {
    trial.set_state(v1::Trial::STOPPED);
    trial.set_state_message("stopped by a user before it started");
    if (absl::Status s = store_->UpdateTrial(trial); !s.ok()) {
      event.done(s);
      return s;
    }
    event.done(absl::OkStatus());
    CheckEndConditions();
    return Advance();
  }
  if (trial.state() != v1::Trial::RUNNING) {
    event.done(absl::FailedPreconditionError(
        absl::StrCat("trial ", trial.number(), " has already ended (",
                     v1::Trial::State_Name(trial.state()), ")")));
    return absl::OkStatus();
  }
  stopped_by_user_.insert(trial.id());
  if (options_.registry != nullptr) {
    options_.registry->MarkShouldStop(trial.id());
  }
  executor_->Stop(trial.id());
  event.done(absl::OkStatus());
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::Handle(const WorkerStarted& event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  if (trial == nullptr) return absl::OkStatus();
  *trial->mutable_local_worker() = event.local_worker;
  trial->set_kubernetes_job(event.kubernetes_job);
  return store_->UpdateTrial(*trial);
}

absl::Status StudyControllerImpl::Handle(const WorkerWaiting& event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  if (trial == nullptr || trial->state() != v1::Trial::RUNNING) {
    return absl::OkStatus();
  }
  trial->set_state_message(event.reason.empty()
                               ? ""
                               : absl::StrCat("waiting: ", event.reason));
  return store_->UpdateTrial(*trial);
}

absl::Status StudyControllerImpl::Handle(const WorkerRunning& event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  // An adopted worker is told of again: it has cost since it first ran.
  if (trial == nullptr || trial->state() != v1::Trial::RUNNING ||
      trial->has_run_start_time()) {
    return absl::OkStatus();
  }
  // Never before the attempt began, whatever the cluster's clock says.
  *trial->mutable_run_start_time() = ToProto(
      std::max(event.since, FromProto(trial->start_time())));
  return store_->UpdateTrial(*trial);
}

absl::Status StudyControllerImpl::Handle(const MetricsObserved& event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  if (trial == nullptr) return absl::OkStatus();
  if (!event.step.has_value()) {
    for (const auto& [name, value] : event.metrics) {
      (*trial->mutable_final_metrics())[name] = value;
    }
    return absl::OkStatus();
  }
  v1::Measurement measurement;
  measurement.set_step(*event.step);
  *measurement.mutable_time() = ToProto(options_.now());
  for (const auto& [name, value] : event.metrics) {
    (*measurement.mutable_metrics())[name] = value;
    last_intermediate_[trial->id()][name] = value;
  }
  if (absl::Status s = store_->AddMeasurements(trial->id(), {measurement});
      !s.ok()) {
    return s;
  }
  std::optional<EarlyStopper::Decision> stop =
      JudgeForEarlyStop(trial->id(), {measurement});
  if (!stop.has_value()) return absl::OkStatus();
  return Handle(EarlyStopDecided{trial->id(), *std::move(stop)});
}

absl::Status StudyControllerImpl::Handle(const WorkerExited& event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  if (trial == nullptr) return absl::OkStatus();
  // The worker's own end, when the executor knows it, within the attempt.
  const absl::Time now = options_.now();
  const absl::Time end =
      event.end_time.has_value()
          ? std::min(now, std::max(*event.end_time,
                                   FromProto(trial->start_time())))
          : now;
  ChargeAttempt(*trial, end);
  ReleaseFor(trial->id());
  *trial->mutable_end_time() = ToProto(end);
  if (event.exit_code.has_value()) trial->set_exit_code(*event.exit_code);
  if (event.exit_signal.has_value()) trial->set_exit_signal(*event.exit_signal);
  trial->clear_local_worker();
  if (options_.registry != nullptr) options_.registry->Remove(trial->id());

  if (early_stopping_.contains(trial->id())) {
    EndEarlyStopped(*trial);
  } else if (event.stopped &&
             (ending_ == Ending::kUserStop || ending_ == Ending::kShutdown)) {
    trial->set_state(v1::Trial::PENDING);
    trial->set_state_message(
        "interrupted by a stop request; runs again on resume");
  } else if (stopped_by_user_.erase(trial->id()) > 0) {
    trial->set_state(v1::Trial::STOPPED);
    trial->set_state_message("stopped by a user");
  } else if (event.stopped && ending_ == Ending::kStudyEnd) {
    trial->set_state(v1::Trial::STOPPED);
    trial->set_state_message(absl::StrCat("stopped: ", end_message_));
  } else {
    Judge(*trial, event);
  }
  last_intermediate_.erase(trial->id());
  if (absl::Status s = store_->UpdateTrial(*trial); !s.ok()) return s;
  if (IsFinal(trial->state()) && options_.on_trial_finished) {
    options_.on_trial_finished(*trial);
  }
  CheckEndConditions();
  return absl::OkStatus();
}

void StudyControllerImpl::Judge(v1::Trial& trial, const WorkerExited& event) {
  // Final values the worker did not print fall back to its last intermediate.
  const std::string& metric = spec().objective().metric();
  auto& finals = *trial.mutable_final_metrics();
  for (const auto& [name, value] : last_intermediate_[trial.id()]) {
    if (!finals.contains(name)) finals[name] = value;
  }

  std::string failure;
  if (!event.launch_error.ok()) {
    failure = std::string(event.launch_error.message());
  } else if (event.timed_out) {
    failure = absl::StrCat(
        "exceeded max_runtime (",
        absl::FormatDuration(FromProto(spec().trials().max_runtime())), ")");
  } else if (event.exit_signal.has_value()) {
    failure = absl::StrCat("killed by signal ", *event.exit_signal, " (",
                           SignalName(*event.exit_signal), ")");
  } else if (event.exit_code.value_or(-1) != 0) {
    failure = absl::StrCat("exited with code ", event.exit_code.value_or(-1));
  } else if (!finals.contains(metric)) {
    failure = absl::StrCat("exited 0 but reported no value of '", metric, "'");
  }

  if (failure.empty()) {
    const double objective = finals.at(metric);
    trial.set_objective(objective);
    if (std::isfinite(objective)) {
      trial.set_state(v1::Trial::SUCCEEDED);
      trial.set_state_message("");
    } else {
      trial.set_state(v1::Trial::INFEASIBLE);
      trial.set_state_message(absl::StrCat(metric, " is not finite"));
    }
    return;
  }
  trial.set_log_tail(event.log_tail);
  if (trial.attempt() <= spec().trials().retries()) {
    trial.set_state(v1::Trial::PENDING);
    trial.set_state_message(absl::StrCat("attempt ", trial.attempt(), " ",
                                         failure, "; runs again"));
    spdlog::info("study {}: trial {} {}; retrying", study_.name(),
                 trial.number(), failure);
    return;
  }
  trial.set_state(v1::Trial::FAILED);
  trial.set_state_message(failure);
}

absl::Status StudyControllerImpl::Handle(SuggestionsReady event) {
  suggesting_ = false;
  if (!event.assignments.ok()) return event.assignments.status();
  if (static_cast<int>(event.assignments->size()) < event.requested) {
    space_exhausted_ = true;
  }
  if (ending_ != Ending::kNone || event.assignments->empty()) {
    return absl::OkStatus();
  }
  // Ask/tell trials go straight to the client that asked.
  const AskRequested* ask =
      ask_tell() && !asks_.empty() ? &asks_.front() : nullptr;
  int next_number = 1;
  for (const auto& [id, trial] : trials_) {
    next_number = std::max(next_number, trial.number() + 1);
  }
  std::vector<v1::Trial> fresh;
  for (algorithms::Assignment& assignment : *event.assignments) {
    v1::Trial trial;
    trial.set_study_id(study_.id());
    trial.set_number(next_number++);
    *trial.mutable_parameters() = std::move(assignment);
    trial.set_state(v1::Trial::PENDING);
    *trial.mutable_create_time() = ToProto(options_.now());
    if (ask != nullptr) {
      trial.set_state(v1::Trial::RUNNING);
      trial.set_client_id(ask->client_id);
      trial.set_attempt(1);
      *trial.mutable_start_time() = trial.create_time();
    }
    fresh.push_back(std::move(trial));
  }
  absl::StatusOr<std::vector<v1::Trial>> created =
      store_->CreateTrials(std::move(fresh));
  if (!created.ok()) {
    // The disk is full or the database read-only: the asking client learns
    // it and may ask again; the study carries on, nothing was stored.
    if (ask != nullptr && absl::IsUnavailable(created.status())) {
      asks_.front().done(created.status());
      asks_.pop_front();
      asked_algorithm_ = false;
      return absl::OkStatus();
    }
    return created.status();
  }
  for (v1::Trial& trial : *created) trials_[trial.id()] = std::move(trial);
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::HandleStopRequest(Ending ending) {
  if (ending_ == Ending::kNone || ending == Ending::kShutdown) {
    if (ending == Ending::kShutdown) {
      BeginEnding(ending, study_.state(), study_.end_reason(),
                  "the server is shutting down");
    } else {
      BeginEnding(ending, v1::Study::STOPPED, v1::Study::USER_STOPPED,
                  "stopped by a user");
    }
  }
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::Handle(const MeasurementsReported& event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  if (trial == nullptr || trial->state() != v1::Trial::RUNNING) {
    return absl::OkStatus();
  }
  // In step order, so that the last value of each metric wins.
  std::vector<const v1::Measurement*> by_step;
  for (const v1::Measurement& measurement : event.measurements) {
    by_step.push_back(&measurement);
  }
  std::stable_sort(by_step.begin(), by_step.end(),
                   [](const v1::Measurement* a, const v1::Measurement* b) {
                     return a->step() < b->step();
                   });
  for (const v1::Measurement* measurement : by_step) {
    for (const auto& [name, value] : measurement->metrics()) {
      last_intermediate_[trial->id()][name] = value;
    }
  }
  return absl::OkStatus();
}

absl::Status StudyControllerImpl::Handle(FinishRequested event) {
  v1::Trial* trial = FindTrial(event.trial_id);
  if (trial == nullptr || trial->state() != v1::Trial::RUNNING) {
    event.done(absl::FailedPreconditionError(
        absl::StrCat("trial ", event.trial_id, " is not running")));
    return absl::OkStatus();
  }
  for (const auto& [name, value] : event.metrics) {
    (*trial->mutable_final_metrics())[name] = value;
  }
  absl::Status stored = store_->UpdateTrial(*trial);
  event.done(stored);
  return stored;
}

void StudyControllerImpl::CheckEndConditions() {
  if (ending_ != Ending::kNone) return;
  const StudySummary summary = Summary();
  const v1::TrialsSpec& trials = spec().trials();
  const v1::ObjectiveSpec& objective = spec().objective();
  if (objective.has_target() && summary.best.has_value() &&
      !IsBetter(objective, objective.target(), summary.best->objective())) {
    BeginEnding(Ending::kStudyEnd, v1::Study::DONE, v1::Study::TARGET_REACHED,
                absl::StrFormat("trial %d reached the target %s %g",
                                summary.best->number(), objective.metric(),
                                objective.target()));
  } else if (trials.has_max_failed() && summary.failed > trials.max_failed()) {
    BeginEnding(Ending::kStudyEnd, v1::Study::FAILED,
                v1::Study::TOO_MANY_FAILURES,
                absl::StrFormat("%d trials failed, more than max_failed (%d)",
                                summary.failed, trials.max_failed()));
  } else if (summary.finished() >= trials.max()) {
    BeginEnding(Ending::kStudyEnd, v1::Study::DONE, v1::Study::MAX_TRIALS,
                absl::StrFormat("all %d trials finished", trials.max()));
  } else if (space_exhausted_ && summary.pending == 0 && summary.running == 0 &&
             !suggesting_) {
    BeginEnding(Ending::kStudyEnd, v1::Study::DONE, v1::Study::SPACE_EXHAUSTED,
                absl::StrFormat("the search space is used up after %d trials",
                                summary.created));
  }
}

void StudyControllerImpl::BeginEnding(Ending ending, v1::Study::State state,
                                      v1::Study::EndReason reason,
                                      std::string message, bool stop_workers) {
  ending_ = ending;
  end_state_ = state;
  end_reason_ = reason;
  end_message_ = std::move(message);
  spdlog::info("study {}: {}", study_.name(), end_message_);
  WithdrawFromPools();
  if (stop_workers) StopRunningWorkers();
}

absl::Status StudyControllerImpl::FinishStudy() {
  if (ending_ == Ending::kShutdown) {
    finished_ = true;
    return absl::OkStatus();
  }
  if (ending_ == Ending::kStudyEnd) {
    // Trials waiting for a slot (retries), and ask/tell trials still out
    // with their clients, will not run in an ended study.
    for (auto& [id, trial] : trials_) {
      const bool out_with_client =
          ask_tell() && trial.state() == v1::Trial::RUNNING;
      if (trial.state() != v1::Trial::PENDING && !out_with_client) continue;
      trial.set_state(v1::Trial::STOPPED);
      trial.set_state_message(absl::StrCat("not run: ", end_message_));
      if (absl::Status s = store_->UpdateTrial(trial); !s.ok()) return s;
    }
  }
  study_.set_state(end_state_);
  study_.set_end_reason(end_reason_);
  study_.set_state_message(end_message_);
  *study_.mutable_end_time() = ToProto(options_.now());
  if (absl::Status s = store_->UpdateStudy(study_); !s.ok()) return s;
  finished_ = true;
  return absl::OkStatus();
}

v1::Trial* StudyControllerImpl::FindTrial(int64_t trial_id) {
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) {
    spdlog::warn("study {}: event for unknown trial id {}", study_.name(),
                 trial_id);
    return nullptr;
  }
  return &it->second;
}

std::vector<v1::Trial> StudyControllerImpl::Trials() const {
  std::vector<v1::Trial> trials;
  trials.reserve(trials_.size());
  for (const auto& [id, trial] : trials_) trials.push_back(trial);
  std::sort(trials.begin(), trials.end(),
            [](const v1::Trial& a, const v1::Trial& b) {
              return a.number() < b.number();
            });
  return trials;
}

StudySummary StudyControllerImpl::Summary() const {
  // Ids grow with numbers within a study, so trials_ is in number order;
  // folding it in place spares a copy of every trial on each event.
  StudySummary summary;
  for (const auto& [id, trial] : trials_) {
    AddToSummary(spec().objective(), trial, summary);
  }
  return summary;
}

void StudyControllerImpl::ReportProgress() {
  if (!options_.on_progress) return;
  options_.on_progress(
      StudyProgress{study_, Summary(), options_.now() - started_at_});
}

}  // namespace internal

using internal::StudyControllerImpl;

absl::Duration StopGrace(const v1::TrialsSpec& trials) {
  if (!trials.has_stop_grace()) return absl::Seconds(10);
  return FromProto(trials.stop_grace());
}

absl::StatusOr<std::unique_ptr<StudyController>> StudyController::Create(
    storage::Store* store, trial_runner::Executor* executor, int64_t study_id,
    StudyControllerOptions options) {
  absl::StatusOr<v1::Study> study = store->GetStudy(study_id);
  if (!study.ok()) return study.status();
  absl::StatusOr<algorithms::SearchSpace> space =
      algorithms::SearchSpace::Create(study->spec().parameters());
  if (!space.ok()) return space.status();
  algorithms::AlgorithmContext context{
      .space = *std::move(space),
      .objective = study->spec().objective(),
      .seed = study->seed(),
      .seed_given = study->spec().algorithm().has_seed(),
      .settings = study->spec().algorithm().settings(),
      .spec = study->spec(),
      .on_model_fit = options.on_model_fit,
  };
  absl::StatusOr<std::unique_ptr<algorithms::Algorithm>> algorithm =
      algorithms::CreateAlgorithm(study->spec().algorithm().name(), context);
  if (!algorithm.ok()) return algorithm.status();
  absl::StatusOr<std::unique_ptr<EarlyStopper>> early_stopper =
      EarlyStopper::Create(study->spec());
  if (!early_stopper.ok()) return early_stopper.status();
  return std::make_unique<StudyControllerImpl>(
      store, executor, *std::move(study), *std::move(algorithm),
      *std::move(early_stopper), std::move(options));
}

absl::Status CheckSameSpec(const v1::Study& existing,
                           const v1::StudySpec& spec) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string differences;
  differencer.ReportDifferencesToString(&differences);
  if (differencer.Compare(existing.spec(), spec)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "study '", spec.name(),
      "' already exists in this database with a different spec; use "
      "another name or database to start a new study. Differences:\n",
      differences));
}

absl::StatusOr<v1::Study> CreateOrResumeStudy(storage::Store* store,
                                              const v1::StudySpec& spec,
                                              const std::string& yaml_text) {
  absl::StatusOr<v1::Study> existing = store->FindStudy(spec.name());
  if (existing.ok()) {
    if (absl::Status same = CheckSameSpec(*existing, spec); !same.ok())
      return same;
    return existing;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();

  v1::Study study;
  study.set_name(spec.name());
  *study.mutable_spec() = spec;
  study.set_yaml(yaml_text);
  study.set_state(v1::Study::ACTIVE);
  study.set_seed(spec.algorithm().has_seed() ? spec.algorithm().seed()
                                             : std::random_device{}());
  *study.mutable_create_time() = ToProto(absl::Now());
  return store->CreateStudy(std::move(study));
}

}  // namespace vernier::controller
