// StudyManager: every study a process runs, and the doors into them.
//
// `vernier serve` holds one manager with many studies; `vernier run` holds one
// with a single study. The manager starts a StudyController (and its loop
// thread) for each active study, shares one executor per worker kind among
// them, routes each executor event to the study that launched the trial, and
// takes the calls that arrive over RPC: training code reporting measurements,
// ask/tell clients, stop requests. Reads (list studies, list trials) go to the
// Store directly and are not here.
//
// A study whose loop ends on a storage fault (its write refused UNAVAILABLE:
// a full disk, a read-only database) is resumed from the store once writes
// work again, as a restarted server would resume it; the manager retries at
// intervals doubling from 1 s to 30 s while the fault lasts.
//
// Thread-safe: every method may be called from any thread. Methods that take
// a `done` callback return at once and call it exactly once, from another
// thread, when the outcome is durable; the callback must not block.
#ifndef VERNIER_CONTROLLER_STUDY_MANAGER_H_
#define VERNIER_CONTROLLER_STUDY_MANAGER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/run_limits.h"
#include "controller/study_controller.h"
#include "storage/store.h"
#include "trial-runner/executor.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

struct StudyManagerOptions {
  // Trial logs go to <log_dir>/<study>/trial-<number>.log.
  std::string log_dir;
  // The gRPC address trials report to (VERNIER_ENDPOINT); empty when the
  // process serves none.
  std::string report_endpoint;
  // When the endpoint speaks TLS: the PEM file trials trust (VERNIER_TLS_CA).
  std::string report_tls_ca;
  // Prepended to each local trial's PYTHONPATH so `import vernier` works
  // with no set-up; empty for none.
  std::string python_client_path;
  // Called on a study's loop thread; see StudyControllerOptions.
  std::function<void(const StudyProgress&)> on_progress;
  std::function<void(const v1::Study&, const v1::Trial&)> on_trial_finished;
  // See StudyControllerOptions::on_suggestion and on_model_fit.
  std::function<void(absl::Duration)> on_suggestion;
  std::function<void(absl::Duration)> on_model_fit;
  std::function<absl::Time()> now = absl::Now;
  // The GPUs trials may hold when a study lists none of its own; nullopt:
  // the ones `nvidia_smi` lists when the manager is created.
  std::optional<std::vector<std::string>> gpus;
  std::string nvidia_smi = "nvidia-smi";
  // Caps on running trials across the manager's studies (RunLimits).
  RunLimitsSpec run_limits;
  // Builds the executor of one study whose workers are not local processes
  // (worker.kind kubernetes); it posts to `sink` and is shut down when the
  // study's loop ends. Unset: such studies fail to start (UNIMPLEMENTED).
  std::function<absl::StatusOr<std::unique_ptr<trial_runner::Executor>>(
      const v1::Study& study, trial_runner::ExecutorEventSink sink)>
      study_executor;
};

// What training code learns of its trial: the trial, and its study's
// parameter specs (in the spec's order), which say how to read each value.
struct WorkerTrial {
  v1::Trial trial;
  std::vector<v1::ParameterSpec> parameters;
};

// Builds the executor that runs local workers, given where its events go.
using ExecutorFactory = std::function<std::unique_ptr<trial_runner::Executor>(
    trial_runner::ExecutorEventSink sink)>;

class StudyManager {
 public:
  // `store` must outlive the manager.
  static std::unique_ptr<StudyManager> Create(storage::Store* store,
                                              ExecutorFactory local_executor,
                                              StudyManagerOptions options);
  virtual ~StudyManager() = default;
  StudyManager(const StudyManager&) = delete;
  StudyManager& operator=(const StudyManager&) = delete;

  // Sets the address trials report to, for studies started from now on
  // (known only once the gRPC server has bound its port).
  virtual void SetReportEndpoint(std::string endpoint) = 0;

  // Starts a controller for every ACTIVE study in the store (after a restart).
  virtual absl::Status ResumeActiveStudies() = 0;

  // Stores a new study and starts it. With `resume_existing`, a stored study
  // of the same name and an equal spec is resumed instead of ALREADY_EXISTS;
  // a different spec is FAILED_PRECONDITION (see CreateOrResumeStudy). The
  // spec must be valid (ValidateStudySpec).
  virtual absl::StatusOr<v1::Study> StartStudy(const v1::StudySpec& spec,
                                               const std::string& yaml_text,
                                               bool resume_existing) = 0;

  // Asks a running study to stop (its workers stopped, the study STOPPED).
  // The study as stored; a study that has ended is returned unchanged.
  virtual absl::StatusOr<v1::Study> StopStudy(absl::string_view name) = 0;

  // Stops one trial of a running study (see StudyController::StopTrial).
  // `done` gets NOT_FOUND for an unknown trial and FAILED_PRECONDITION when
  // its study does not run in this process.
  virtual void StopTrial(int64_t trial_id,
                         std::function<void(absl::Status)> done) = 0;

  // Blocks until the named study's controller has ended and returns the
  // study as stored then. NOT_FOUND when no controller runs it.
  virtual absl::StatusOr<v1::Study> WaitForStudy(absl::string_view name) = 0;

  // --- Training code (TrialService). `token` is the trial's own. ---
  // PERMISSION_DENIED for a wrong token, NOT_FOUND for an unknown trial,
  // FAILED_PRECONDITION for a trial that is not running, UNAVAILABLE for one
  // recorded as running whose study this manager does not run (yet: a
  // restarted server resuming it, whose workers retry).

  // The trial, with its parameters, and its study's parameter specs.
  virtual absl::StatusOr<WorkerTrial> GetTrialForWorker(
      int64_t trial_id, absl::string_view token) = 0;

  // Stores intermediate measurements, all or none; `done` gets whether the
  // trial should stop, once they are durable.
  virtual void ReportMeasurements(
      int64_t trial_id, absl::string_view token,
      std::vector<v1::Measurement> measurements,
      std::function<void(absl::StatusOr<bool> should_stop)> done) = 0;

  // Records the trial's final metrics; `done` once they are durable.
  virtual void FinishTrial(int64_t trial_id, absl::string_view token,
                           std::map<std::string, double> metrics,
                           std::function<void(absl::Status)> done) = 0;

  // --- Ask/tell (studies with worker.kind NONE). ---

  // Trials for `client_id` to evaluate: its unfinished ones first, then new
  // ones, `count` in all at most. FAILED_PRECONDITION for a study with
  // workers or one that has ended.
  virtual void SuggestTrials(
      absl::string_view study, int count, const std::string& client_id,
      std::function<void(absl::StatusOr<std::vector<v1::Trial>>)> done) = 0;

  // The result of a suggested trial: its metrics (with the objective), or
  // infeasible. FAILED_PRECONDITION when the trial has already ended.
  virtual void CompleteTrial(
      absl::string_view study, int64_t trial_id,
      std::map<std::string, double> metrics, bool infeasible,
      const std::string& infeasible_reason,
      std::function<void(absl::StatusOr<v1::Trial>)> done) = 0;

  // Stops every study's workers (their trials run again on resume) and
  // joins every thread. Called before destruction.
  virtual void Shutdown() = 0;

 protected:
  StudyManager() = default;
};

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_STUDY_MANAGER_H_
