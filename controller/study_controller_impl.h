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
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "algorithms/algorithm.h"
#include "controller/event_queue.h"
#include "controller/study_controller.h"

namespace vernier::controller::internal {

using trial_runner::ExecutorEvent;
using trial_runner::MetricsObserved;
using trial_runner::WorkerExited;
using trial_runner::WorkerStarted;

constexpr absl::Duration kDefaultStopGrace = absl::Seconds(10);

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

using Event = std::variant<ExecutorEvent, StopRequested, ShutdownRequested,
                           SuggestionsReady, MeasurementsReported,
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
                      StudyControllerOptions options)
      : store_(store),
        executor_(executor),
        options_(std::move(options)),
        study_(std::move(study)),
        algorithm_(std::move(algorithm)) {}

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
    events_.Post(MeasurementsReported{trial_id, std::move(measurements)});
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

  absl::Status Recover();
  // Starts whatever can start now; ends the study when nothing can.
  absl::Status Advance();
  absl::Status Launch(v1::Trial& trial);
  void RequestSuggestions(int count);

  absl::Status Handle(Event event);
  absl::Status Handle(const WorkerStarted& event);
  absl::Status Handle(const MetricsObserved& event);
  absl::Status Handle(const WorkerExited& event);
  absl::Status Handle(SuggestionsReady event);
  absl::Status Handle(const MeasurementsReported& event);
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

  // Decides the state of a trial whose worker ended by itself.
  void Judge(v1::Trial& trial, const WorkerExited& event);
  // Checks target, failure limit, trial count and exhaustion.
  void CheckEndConditions();
  void BeginEnding(Ending ending, v1::Study::State state,
                   v1::Study::EndReason reason, std::string message);
  absl::Status FinishStudy();

  v1::Trial* FindTrial(int64_t trial_id);
  std::vector<v1::Trial> Trials() const;
  StudySummary Summary() const;
  void ReportProgress();

  storage::Store* const store_;
  trial_runner::Executor* const executor_;
  const StudyControllerOptions options_;
  EventQueue<Event> events_;

  // Everything below is owned by the loop thread (inside Run).
  v1::Study study_;
  std::unique_ptr<algorithms::Algorithm> algorithm_;  // used by suggest_thread_
  std::map<int64_t, v1::Trial> trials_;               // by id
  // Intermediate values seen in the current attempt of each running trial:
  // the last one counts as final when a worker reports no final value.
  std::map<int64_t, std::map<std::string, double>> last_intermediate_;
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
};

}  // namespace vernier::controller::internal

#endif  // VERNIER_CONTROLLER_STUDY_CONTROLLER_IMPL_H_
