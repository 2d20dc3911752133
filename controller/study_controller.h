// StudyController: the loop that runs one study to its end.
//
// It asks the study's algorithm for trials, stores each trial before its
// worker starts, launches workers through an Executor within the study's
// parallelism, records what the workers report, and ends the study when an end
// condition holds: trials.max trials finished, objective.target reached, more
// than trials.max_failed failures, the search space used up, or a stop request.
//
// Threads: one event loop thread (inside Run) owns all study state; the
// executor and other threads only Post events, so the domain logic takes no
// locks. Suggestions are computed on a separate thread so that a slow
// algorithm never delays the handling of reports.
//
// Early stopping (spec.early_stopping): every intermediate measurement of the
// objective, from the report RPC or a stdout `step=N` line, is put to the
// study's rule (EarlyStopper) as it arrives. A trial the rule stops is told
// so in the answer to that report and every later one (should_stop). A push
// worker then has trials.stop_grace to exit by itself before the executor
// stops it (SIGTERM, then SIGKILL after stop_grace again); a stdout worker,
// which cannot hear the answer, is stopped by the executor at once. Either
// way the trial ends STOPPED with `early_stop` (rule, step) and, as its
// objective, the best value it reached by that step; its slot goes to the
// next trial.
//
// Resume: Run starts from what the store holds. Trials left RUNNING by a
// process that died are offered to the executor (Executor::Adopt): those
// whose workers it follows again keep running, their reports accepted with
// the token they were launched with; the others are reclaimed (their workers
// ended) and run again, as are PENDING ones. A STOPPED study becomes ACTIVE
// again.
#ifndef VERNIER_CONTROLLER_STUDY_CONTROLLER_H_
#define VERNIER_CONTROLLER_STUDY_CONTROLLER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/run_limits.h"
#include "controller/study_summary.h"
#include "controller/trial_registry.h"
#include "storage/store.h"
#include "trial-runner/executor.h"
#include "trial-runner/local/device_pool.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

struct StudyProgress {
  v1::Study study;
  StudySummary summary;
  absl::Duration elapsed;
};

struct StudyControllerOptions {
  // Trial logs go to <log_dir>/<study name>/trial-<number>.log.
  std::string log_dir;
  // Called on the loop thread after every change, and once at the end.
  // Must not block for long.
  std::function<void(const StudyProgress&)> on_progress;
  // Called on the loop thread when a trial reaches a final state.
  std::function<void(const v1::Trial&)> on_trial_finished;
  // The clock; injected so tests can drive time.
  std::function<absl::Time()> now = absl::Now;
  // Where workers report (VERNIER_ENDPOINT), and the registry that checks
  // their tokens. Without a registry, workers get no endpoint or token.
  std::string report_endpoint;
  std::string report_tls_ca;  // VERNIER_TLS_CA when not empty
  TrialRegistry* registry = nullptr;
  // Prepended to each worker's PYTHONPATH (the bundled Python client).
  std::string python_client_path;
  // The process's GPUs and CPU cores, which trials hold exclusively
  // (worker.gpus_per_trial, cpus_per_trial), shared with its other studies.
  // Must outlive the controller; null when there are none to give.
  trial_runner::DevicePool* gpus = nullptr;
  trial_runner::DevicePool* cpus = nullptr;
  // The server's caps on running trials (RunLimits); null: none.
  RunLimits* run_limits = nullptr;
  // Told how long each Algorithm::Suggest call took, on the suggestion
  // thread. Must be quick; may be empty.
  std::function<void(absl::Duration)> on_suggestion;
  // Told how long each fit of the algorithm's model took (see
  // AlgorithmContext::on_model_fit), on the suggestion thread. May be empty.
  std::function<void(absl::Duration)> on_model_fit;
};

// How long a stopped worker has between SIGTERM and SIGKILL:
// trials.stop_grace, or 10 s when absent.
absl::Duration StopGrace(const v1::TrialsSpec& trials);

class StudyController {
 public:
  // `store` and `executor` must outlive the controller. The executor's events
  // for this study's trials must be passed to OnExecutorEvent. `executor` is
  // null for an ask/tell study (worker.kind NONE).
  // NOT_FOUND for an unknown study; INVALID_ARGUMENT if its algorithm cannot
  // be built from its spec.
  static absl::StatusOr<std::unique_ptr<StudyController>> Create(
      storage::Store* store, trial_runner::Executor* executor, int64_t study_id,
      StudyControllerOptions options);

  virtual ~StudyController() = default;
  StudyController(const StudyController&) = delete;
  StudyController& operator=(const StudyController&) = delete;

  // Runs the study until it is DONE, FAILED or STOPPED, and returns it as
  // stored. A storage failure ends the run early with that status, after the
  // running workers are stopped. Call once.
  virtual absl::StatusOr<v1::Study> Run() = 0;

  // Asks the study to stop: running workers are stopped, their trials go
  // back to PENDING (they run again on resume), and the study ends STOPPED.
  // Thread-safe; returns at once.
  virtual void RequestStop() = 0;

  // Stops one trial for good: a running worker is stopped and its trial ends
  // STOPPED ("stopped by a user"); a pending trial ends STOPPED at once.
  // `done` gets OK once the stop is under way, FAILED_PRECONDITION for a
  // trial that has ended or belongs to an ask/tell client, NOT_FOUND for a
  // trial of another study. Thread-safe; returns at once.
  virtual void StopTrial(int64_t trial_id,
                         std::function<void(absl::Status)> done) = 0;

  // Stops the workers (their trials run again on resume) and ends Run with
  // the study still ACTIVE, for a process that is shutting down. Thread-safe.
  virtual void Shutdown() = 0;

  // Feeds an executor event. Thread-safe; returns at once.
  virtual void OnExecutorEvent(trial_runner::ExecutorEvent event) = 0;

  // Measurements a worker reported over RPC, already durable. Puts them to
  // the early-stopping rule before returning, so that a stop the rule
  // decides answers this very report (the registry's should_stop).
  // Thread-safe.
  virtual void OnMeasurementsReported(
      int64_t trial_id, std::vector<v1::Measurement> measurements) = 0;

  // Records a running trial's final metrics (durably, before `done`).
  // FAILED_PRECONDITION when the trial is not running. Thread-safe.
  virtual void FinishTrial(int64_t trial_id,
                           std::map<std::string, double> metrics,
                           std::function<void(absl::Status)> done) = 0;

  // Ask/tell: see StudyManager::SuggestTrials and CompleteTrial.
  virtual void SuggestTrials(
      int count, std::string client_id,
      std::function<void(absl::StatusOr<std::vector<v1::Trial>>)> done) = 0;
  virtual void CompleteTrial(
      int64_t trial_id, std::map<std::string, double> metrics, bool infeasible,
      std::string infeasible_reason,
      std::function<void(absl::StatusOr<v1::Trial>)> done) = 0;

 protected:
  StudyController() = default;
};

// Finds the study named spec.name in `store` or creates it (ACTIVE, with a
// drawn seed when the spec has none). An existing study is returned only if
// its spec equals `spec`; otherwise FAILED_PRECONDITION names the fields that
// differ, since resuming it under other rules would mix two experiments.
// OK when `existing` was made from `spec`; else the FAILED_PRECONDITION of
// CreateOrResumeStudy.
absl::Status CheckSameSpec(const v1::Study& existing,
                           const v1::StudySpec& spec);

absl::StatusOr<v1::Study> CreateOrResumeStudy(storage::Store* store,
                                              const v1::StudySpec& spec,
                                              const std::string& yaml_text);

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_STUDY_CONTROLLER_H_
