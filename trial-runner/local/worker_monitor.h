// One trial's worker, watched from start to exit by a thread of its own; the
// local executor's unit of work (see local_executor.h for the behaviour).
#ifndef VERNIER_TRIAL_RUNNER_LOCAL_WORKER_MONITOR_H_
#define VERNIER_TRIAL_RUNNER_LOCAL_WORKER_MONITOR_H_

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "trial-runner/executor.h"
#include "trial-runner/local/local_executor.h"
#include "trial-runner/local/process.h"

namespace vernier::trial_runner {

// Threads: Run executes on the trial's own thread, which alone owns the
// worker's pid, pipes and log descriptor and alone posts the trial's events.
// RequestStop, WaitUntilLaunched and Finished may be called from any thread.
class WorkerMonitor {
 public:
  // `sink` must outlive Run.
  WorkerMonitor(TrialLaunch launch, const ExecutorEventSink& sink,
                const LocalExecutorOptions& options);
  WorkerMonitor(const WorkerMonitor&) = delete;
  WorkerMonitor& operator=(const WorkerMonitor&) = delete;

  // Starts the worker, copies its output to the log, posts WorkerStarted,
  // MetricsObserved for each parsed stdout line, and WorkerExited last.
  // Returns once the worker's group is dead and WorkerExited is posted. The
  // calling thread must not end before Run returns (the worker is killed
  // when it does). Call once.
  void Run();

  // Blocks until Run has posted WorkerStarted, or the WorkerExited of a
  // launch that failed.
  void WaitUntilLaunched() { launched_.WaitForNotification(); }

  // Asks Run to stop the worker (SIGTERM to the group, SIGKILL after the
  // launch's stop_grace). Does not wait. No effect after the worker exited.
  void RequestStop();

  // True once Run is posting WorkerExited: Run returns as soon as the sink
  // does, so joining its thread then waits no longer than that call.
  bool Finished() const { return finished_.load(std::memory_order_acquire); }

 private:
  // Watches the running worker until its group is dead and its output
  // drained; fills exit status and stop cause into `exited`.
  void Watch(SpawnedWorker worker, int log_fd, WorkerExited& exited);
  bool StopRequested() const;
  void PostMetricsIn(absl::string_view line);
  void FinishLaunch(WorkerExited exited);

  const TrialLaunch launch_;
  const ExecutorEventSink& sink_;
  const LocalExecutorOptions options_;

  mutable absl::Mutex mu_;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  // An eventfd that RequestStop writes to wake Run's poll.
  UniqueFd wake_fd_;
  absl::Notification launched_;
  std::atomic<bool> finished_{false};
};

}  // namespace vernier::trial_runner

#endif  // VERNIER_TRIAL_RUNNER_LOCAL_WORKER_MONITOR_H_
