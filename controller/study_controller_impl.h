// The study loop's implementation, shared by the files that define it
// (study_controller.cc, study_controller_ask_tell.cc). Internal to the
// controller module: others use controller/study_controller.h.
#ifndef VERNIER_CONTROLLER_STUDY_CONTROLLER_IMPL_H_
#define VERNIER_CONTROLLER_STUDY_CONTROLLER_IMPL_H_

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "algorithms/algorithm.h"
#include "controller/cost_ledger.h"
#include "controller/early_stopper.h"
#include "controller/event_queue.h"
#include "controller/study_controller.h"

namespace vernier::controller::internal {

using trial_runner::ExecutorEvent;
using trial_runner::MetricsObserved;
using trial_runner::WorkerExited;
using trial_runner::WorkerStarted;
using trial_runner::WorkerRunning;
using trial_runner::WorkerWaiting;

struct StopRequested {};

struct TrialStopRequested {
  int64_t trial_id = 0;
  std::function<void(absl::Status)> done;
};
struct ShutdownRequested {};

// The algorithm's answer to one Suggest call.
struct SuggestionsReady {
  absl::StatusOr<std::vector<algorithms::Assignment>> assignments;
  int requested = 0;
};

struct MeasurementsReported {
  int64_t trial_id = 0;
  std::vector<v1::Measurement> measurements;
};

// The early-stopping rule stopped a running trial (decided on a report
// thread; see EarlyStopper).
struct EarlyStopDecided {
  int64_t trial_id = 0;
  EarlyStopper::Decision decision;
};

struct FinishRequested {
  int64_t trial_id = 0;
  std::map<std::string, double> metrics;
  std::function<void(absl::Status)> done;
};

// Ask/tell.
struct AskRequested {
  int count = 0;
  std::string client_id;
  std::function<void(absl::StatusOr<std::vector<v1::Trial>>)> done;
};

struct TellRequested {
  int64_t trial_id = 0;
  std::map<std::string, double> metrics;
  bool infeasible = false;
  std::string infeasible_reason;
  std::function<void(absl::StatusOr<v1::Trial>)> done;
};

using Event =
    std::variant<ExecutorEvent, StopRequested, ShutdownRequested,
                 SuggestionsReady, MeasurementsReported, EarlyStopDecided,
                 FinishRequested, AskRequested, TellRequested,
                 TrialStopRequested>;

// Why running workers are being stopped, which decides what their trials
// become once they exit.
enum class Ending {
  kNone,
  kUserStop,  // trials go back to PENDING; the study ends STOPPED
  kShutdown,  // trials go back to PENDING; the study stays ACTIVE
  kStudyEnd,  // trials end STOPPED; the study ends DONE or FAILED
};

class StudyControllerImpl final : public StudyController {
 public:
  StudyControllerImpl(storage::Store* store, trial_runner::Executor* executor,
                      v1::Study study,
                      std::unique_ptr<algorithms::Algorithm> algorithm,
                      std::unique_ptr<EarlyStopper> early_stopper,
                      StudyControllerOptions options)
      : store_(store),
        executor_(executor),
        options_(std::move(options)),
        early_stopper_(std::move(early_stopper)),
        study_(std::move(study)),
        algorithm_(std::move(algorithm)),
        ledger_(study_.spec()) {}

  ~StudyControllerImpl() override {
    if (suggest_thread_.joinable()) suggest_thread_.join();
  }

  void RequestStop() override { events_.Post(StopRequested{}); }
  void Shutdown() override { events_.Post(ShutdownRequested{}); }
  void StopTrial(int64_t trial_id,
                 std::function<void(absl::Status)> done) override {
    events_.Post(TrialStopRequested{trial_id, std::move(done)});
  }

  void OnExecutorEvent(ExecutorEvent event) override {
    events_.Post(std::move(event));
  }

  void OnMeasurementsReported(
      int64_t trial_id, std::vector<v1::Measurement> measurements) override {
    std::optional<EarlyStopper::Decision> stop =
        JudgeForEarlyStop(trial_id, measurements);
    events_.Post(MeasurementsReported{trial_id, std::move(measurements)});
    if (stop.has_value()) events_.Post(EarlyStopDecided{trial_id, *stop});
  }

  void FinishTrial(int64_t trial_id, std::map<std::string, double> metrics,
                   std::function<void(absl::Status)> done) override {
    events_.Post(
        FinishRequested{trial_id, std::move(metrics), std::move(done)});
  }

  void SuggestTrials(int count, std::string client_id,
                     std::function<void(absl::StatusOr<std::vector<v1::Trial>>)>
                         done) override {
    events_.Post(AskRequested{count, std::move(client_id), std::move(done)});
  }

  void CompleteTrial(
      int64_t trial_id, std::map<std::string, double> metrics, bool infeasible,
      std::string infeasible_reason,
      std::function<void(absl::StatusOr<v1::Trial>)> done) override {
    events_.Post(TellRequested{trial_id, std::move(metrics), infeasible,
                               std::move(infeasible_reason), std::move(done)});
  }

  absl::StatusOr<v1::Study> Run() override;

 private:
  const v1::StudySpec& spec() const { return study_.spec(); }
  int parallel() const { return std::max(1, spec().trials().parallel()); }
  bool ask_tell() const {
    return spec().worker().kind() == v1::WorkerSpec::NONE;
  }
  absl::Duration stop_grace() const;

  // Loads the stored trials; a trial left RUNNING by a process that ended
  // has its worker reclaimed and runs again, unless its FinishTrial was
  // acknowledged (EndWithAcknowledgedResult).
  absl::Status Recover();
  // Ends a trial whose final metrics hold the objective: SUCCEEDED, or
  // INFEASIBLE for a value that is not finite. Does not store it.
  void EndWithAcknowledgedResult(v1::Trial& trial);
  // Hands the executor the trials left RUNNING by an earlier process;
  // returns those whose workers it follows again.
  absl::StatusOr<std::map<int64_t, trial_runner::AdoptedWorker>> AdoptWorkers(
      const std::vector<v1::Trial>& trials);
  // Takes back an adopted trial: its reports (with `token`) are accepted
  // again and its measurements so far count as before the restart.
  absl::Status Readopt(const v1::Trial& trial, std::string token);
  // What the executor gets for `trial`, except its token and devices.
  absl::StatusOr<trial_runner::TrialLaunch> MakeLaunch(
      const v1::Trial& trial) const;
  // Starts whatever can start now; ends the study when nothing can.
  absl::Status Advance();
  absl::Status Launch(v1::Trial& trial);
  // Records on a PENDING trial what it waits for ("waiting for 1 free GPU"),
  // when that changed, unless its message says something else (why it runs
  // again).
  absl::Status ShowWaiting(v1::Trial& trial, const std::string& waiting_for);
  void RequestSuggestions(int count);

  absl::Status Handle(Event event);
  absl::Status Handle(const WorkerStarted& event);
  absl::Status Handle(const WorkerWaiting& event);
  absl::Status Handle(const WorkerRunning& event);
  absl::Status Handle(const MetricsObserved& event);
  absl::Status Handle(const WorkerExited& event);
  absl::Status Handle(SuggestionsReady event);
  absl::Status Handle(const MeasurementsReported& event);
  absl::Status Handle(const EarlyStopDecided& event);
  absl::Status Handle(FinishRequested event);
  absl::Status Handle(AskRequested event);
  absl::Status Handle(TellRequested event);
  absl::Status Handle(TrialStopRequested event);
  absl::Status HandleStopRequest(Ending ending);

  // Ask/tell: answers the oldest waiting ask when it can be answered now,
  // asking the algorithm for more trials when needed.
  absl::Status ServeAsks();
  // Stops the study's running workers, telling them so through their next
  // report too.
  void StopRunningWorkers();
  // After a fatal error: stops the workers and waits (boundedly) for them
  // to exit, writing nothing, so none is left running unowned.
  void AbandonWorkers();

  // Early stopping (study_controller_early_stop.cc).
  // Asks the rule about a running trial's new measurements; on a stop, marks
  // the trial so that this and later reports answer should_stop. Thread-safe.
  std::optional<EarlyStopper::Decision> JudgeForEarlyStop(
      int64_t trial_id, const std::vector<v1::Measurement>& measurements);
  // Feeds the rule the curves of the trials that ended in an earlier run.
  absl::Status LoadLearningCurves();
  // Stops, through the executor, the workers told to stop whose grace has
  // passed.
  void StopWorkersPastGrace();
  // How long the loop may sleep before StopWorkersPastGrace has work.
  absl::Duration TimeToNextGraceEnd() const;
  // Ends a trial whose worker exited after the rule stopped it (it is in
  // early_stopping_): STOPPED, with its rule, step and best value.
  void EndEarlyStopped(v1::Trial& trial);

  // Decides the state of a trial whose worker ended by itself.
  void Judge(v1::Trial& trial, const WorkerExited& event);
  // Checks target, failure limit, trial count and exhaustion.
  void CheckEndConditions();
  // Ends the study once its running workers have exited; with
  // `stop_workers`, stops them first.
  void BeginEnding(Ending ending, v1::Study::State state,
                   v1::Study::EndReason reason, std::string message,
                   bool stop_workers = true);
  absl::Status FinishStudy();

  // --- Devices and money (study_controller_resources.cc) ---
  // Takes what `trial` needs to start: room in the budget, a slot under the
  // server's caps, its GPUs and cores. True when it may launch now, holding
  // them (see held_); else false with `waiting_for` saying what it waits for.
  bool AcquireFor(const v1::Trial& trial, std::string* waiting_for);
  // Puts the devices `trial` holds into its launch and its record.
  void AssignDevices(v1::Trial& trial, trial_runner::TrialLaunch& launch);
  // Gives back what a trial held; nothing when it held nothing.
  void ReleaseFor(int64_t trial_id);
  // Adds the cost of a RUNNING trial's current attempt, until `end`, to its
  // cost, before its state changes.
  void ChargeAttempt(v1::Trial& trial, absl::Time end);
  // Ends the study for its budget: when the spend would reach the limit
  // before the next tick and a stop, or when nothing runs and the rest
  // cannot carry another trial.
  void CheckBudget();
  // How many more trials the budget can carry now: all (INT_MAX) without a
  // budget, or while a trial's cost cannot be projected yet; else as many
  // as the remainder buys (0 when not one).
  int BudgetRoom() const;
  CostBalance Balance() const;
  // Leaves the device and slot queues: nothing waits to start.
  void WithdrawFromPools();

  v1::Trial* FindTrial(int64_t trial_id);
  std::vector<v1::Trial> Trials() const;
  StudySummary Summary() const;
  void ReportProgress();

  storage::Store* const store_;
  trial_runner::Executor* const executor_;
  const StudyControllerOptions options_;
  // Null without early_stopping; thread-safe, used by report threads too.
  const std::unique_ptr<EarlyStopper> early_stopper_;
  EventQueue<Event> events_;

  // Everything below is owned by the loop thread (inside Run).
  v1::Study study_;
  std::unique_ptr<algorithms::Algorithm> algorithm_;  // used by suggest_thread_
  std::map<int64_t, v1::Trial> trials_;               // by id
  // Intermediate values seen in the current attempt of each running trial:
  // the last one counts as final when a worker reports no final value.
  std::map<int64_t, std::map<std::string, double>> last_intermediate_;
  // Running trials the early-stopping rule stopped, until their workers exit.
  struct EarlyStopping {
    EarlyStopper::Decision decision;
    // When the executor stops the worker if it is still running; unset once
    // the executor was asked.
    std::optional<absl::Time> grace_end;
  };
  std::map<int64_t, EarlyStopping> early_stopping_;  // by trial id
  // Running trials a user asked to stop: they end STOPPED when they exit.
  std::set<int64_t> stopped_by_user_;
  std::thread suggest_thread_;
  bool suggesting_ = false;
  std::deque<AskRequested> asks_;  // ask/tell requests, oldest first
  // The oldest ask is waiting for suggestions asked for it.
  bool asked_algorithm_ = false;
  bool space_exhausted_ = false;
  absl::Time started_at_;

  Ending ending_ = Ending::kNone;
  v1::Study::State end_state_ = v1::Study::ACTIVE;
  v1::Study::EndReason end_reason_ = v1::Study::END_REASON_UNSPECIFIED;
  std::string end_message_;
  bool finished_ = false;

  const CostLedger ledger_;
  struct HeldDevices {
    std::vector<std::string> gpus;
    std::vector<std::string> cpus;
    RunLimits::Grant run_slots;
  };
  // What each trial that is launching or running holds, by trial id.
  std::map<int64_t, HeldDevices> held_;
};

}  // namespace vernier::controller::internal

#endif  // VERNIER_CONTROLLER_STUDY_CONTROLLER_IMPL_H_
