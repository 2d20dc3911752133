// Executor: runs one trial's worker and reports what happens to it.
//
// The controller hands an executor a fully resolved TrialLaunch (command with
// parameters substituted, environment, log file) and learns of the worker's
// life through events posted to the sink given at construction: started,
// metrics observed, exited. An executor knows nothing of storage or of the
// study's logic; it never decides a trial's state.
#ifndef VERNIER_TRIAL_RUNNER_EXECUTOR_H_
#define VERNIER_TRIAL_RUNNER_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/map.h"
#include "google/protobuf/struct.pb.h"
#include "vernier/v1/study.pb.h"

namespace vernier::trial_runner {

struct TrialLaunch {
  int64_t trial_id = 0;
  // The study's name, and the trial's parameter values: for executors that
  // label what they create and fill templates of their own (Kubernetes).
  std::string study;
  google::protobuf::Map<std::string, google::protobuf::Value> parameters;
  // argv, parameters already substituted. argv[0] is looked up on PATH when
  // it has no '/'.
  std::vector<std::string> argv;
  // Added to (and overriding) the executor's own environment.
  std::map<std::string, std::string> env;
  // Absolute; the worker starts there.
  std::string working_dir;
  // When not empty, the worker's processes run on these cores only.
  std::vector<int> cpus;
  // The worker's stdout and stderr go here (created, or appended to).
  std::string log_path;
  // When positive, a worker still running after this long is stopped (as by
  // Stop) and its exit is marked timed_out.
  absl::Duration max_runtime = absl::ZeroDuration();
  // Time between SIGTERM and SIGKILL when stopping.
  absl::Duration stop_grace = absl::Seconds(10);
  // When true, `name=value` lines on stdout are parsed, and values of these
  // metrics (and only these) are posted as MetricsObserved.
  bool collect_stdout = false;
  std::vector<std::string> metric_names;
};

// The worker runs. Posted once, before any other event of the trial.
struct WorkerStarted {
  int64_t trial_id = 0;
  v1::LocalWorker local_worker;  // local workers
  std::string kubernetes_job;    // Kubernetes workers: the Job's name
};

// The worker cannot run yet, for `reason` ("unschedulable: ...", "image pull
// back-off: ...", "exceeded quota: ..."); posted again when the reason
// changes, and with an empty reason once it runs. Between WorkerStarted and
// WorkerExited.
struct WorkerWaiting {
  int64_t trial_id = 0;
  std::string reason;
};

// The worker's processes run since `since`, after waiting (a Kubernetes pod
// scheduled, its container started): from then on it holds, and costs, its
// resources. Posted once, between WorkerStarted and WorkerExited, by
// executors whose workers may wait after WorkerStarted (Kubernetes), even for
// a worker that ended quickly; a local worker runs from WorkerStarted.
struct WorkerRunning {
  int64_t trial_id = 0;
  absl::Time since;
};

// Values the worker reported, in the order it reported them. `step` is set
// for intermediate measurements and unset for final values.
struct MetricsObserved {
  int64_t trial_id = 0;
  std::optional<int64_t> step;
  std::map<std::string, double> metrics;
};

// The worker is gone (or never started: then `launch_error` says why). Posted
// exactly once per launched trial, after every other event of that trial.
struct WorkerExited {
  int64_t trial_id = 0;
  std::optional<int> exit_code;    // when it exited
  std::optional<int> exit_signal;  // when a signal killed it
  bool timed_out = false;          // stopped because max_runtime passed
  bool stopped = false;            // stopped by Stop()
  std::string log_tail;            // the last lines of the log
  absl::Status launch_error;       // not OK when the worker could not start
  // When it ended, when the executor learns it later than it happened (a
  // pod's finishedAt, told through a watch); unset: as the event is posted.
  std::optional<absl::Time> end_time;
};

// A worker an earlier process launched that an executor now follows.
struct AdoptedWorker {
  // The VERNIER_TOKEN it was launched with: its reports carry it.
  std::string token;
};

using ExecutorEvent =
    std::variant<WorkerStarted, WorkerWaiting, WorkerRunning, MetricsObserved,
                 WorkerExited>;

// Receives events. Called from the executor's own threads: it must be
// thread-safe and must not block for long (post to a queue and return).
using ExecutorEventSink = std::function<void(ExecutorEvent event)>;

class Executor {
 public:
  Executor() = default;
  virtual ~Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Starts the trial's worker. Returns once the worker is started (events
  // follow) or could not be (a WorkerExited with launch_error follows too).
  // Thread-safe.
  virtual void Launch(TrialLaunch launch) = 0;

  // Stops the trial's worker: SIGTERM (or the like), then a forced kill after
  // the launch's stop_grace. WorkerExited follows with stopped set. No-op for
  // a trial that is not running. Thread-safe; does not wait.
  virtual void Stop(int64_t trial_id) = 0;

  // Ends a worker left running by an earlier process that crashed, so that no
  // worker runs unowned. OK when it is gone (or was never there).
  virtual absl::Status Reclaim(const v1::Trial& trial) = 0;

  // Called once, before any Launch, with the trials an earlier process left
  // running (each as Launch would get it, without VERNIER_TOKEN): takes over
  // the workers that still run and can be followed from here, whose events
  // then follow as for a launched trial (WorkerExited at the end; no second
  // WorkerStarted), and ends every other worker that earlier process left.
  // Returns the adopted trials by id; the caller reclaims the others and
  // runs them again. This default adopts none: a process cannot wait for
  // another's children. Thread-safe.
  virtual std::map<int64_t, AdoptedWorker> Adopt(
      const std::vector<TrialLaunch>& /*running*/) {
    return {};
  }

  // Stops every running worker and waits until all have exited and their
  // events are posted. Called before destruction.
  virtual void Shutdown() = 0;
};

}  // namespace vernier::trial_runner

#endif  // VERNIER_TRIAL_RUNNER_EXECUTOR_H_
