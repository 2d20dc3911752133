#include "trial-runner/local/local_executor.h"

#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "trial-runner/local/process.h"
#include "trial-runner/local/worker_monitor.h"

namespace vernier::trial_runner {
namespace {

// Threads: Launch, Stop, Reclaim and Shutdown run on callers' threads; each
// launched trial has a thread of its own running its WorkerMonitor, which
// posts all of that trial's events. runs_ is shared, under mu_; threads are
// joined without holding mu_.
class LocalExecutor final : public Executor {
 public:
  LocalExecutor(ExecutorEventSink sink, LocalExecutorOptions options)
      : sink_(std::move(sink)), options_(options) {}
  ~LocalExecutor() override { Shutdown(); }

  void Launch(TrialLaunch launch) override {
    const int64_t trial_id = launch.trial_id;
    // A trial whose WorkerExited was posted may be launched again at once.
    for (Run& run : TakeFinished()) run.thread.join();
    std::shared_ptr<WorkerMonitor> monitor;
    absl::Status refused;
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) {
        refused =
            absl::FailedPreconditionError("the local executor is shut down");
      } else if (runs_.contains(trial_id)) {
        refused = absl::AlreadyExistsError(
            absl::StrCat("trial ", trial_id, " is already running"));
      } else {
        monitor =
            std::make_shared<WorkerMonitor>(std::move(launch), sink_, options_);
        Run& run = runs_[trial_id];
        run.monitor = monitor;
        run.thread = std::thread([monitor] { monitor->Run(); });
      }
    }
    if (!refused.ok()) {
      WorkerExited exited;
      exited.trial_id = trial_id;
      exited.launch_error = std::move(refused);
      sink_(std::move(exited));
      return;
    }
    monitor->WaitUntilLaunched();
  }

  void Stop(int64_t trial_id) override {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(trial_id);
    if (it != runs_.end()) it->second.monitor->RequestStop();
  }

  absl::Status Reclaim(const v1::Trial& trial) override {
    if (!trial.has_local_worker()) return absl::OkStatus();
    return KillWorkerGroup(trial.local_worker().pid(),
                           trial.local_worker().start_ticks(),
                           options_.reclaim_timeout);
  }

  void Shutdown() override {
    // Held throughout, so that a second caller too returns only when all
    // workers are gone.
    absl::MutexLock shutdown_lock(&shutdown_mu_);
    std::map<int64_t, Run> runs;
    {
      absl::MutexLock lock(&mu_);
      shut_down_ = true;
      runs.swap(runs_);
    }
    for (auto& [trial_id, run] : runs) run.monitor->RequestStop();
    for (auto& [trial_id, run] : runs) run.thread.join();
  }

 private:
  struct Run {
    std::shared_ptr<WorkerMonitor> monitor;
    std::thread thread;
  };

  // The runs whose monitors are done but for returning from the sink; the
  // caller joins them without holding mu_, which the sink may need (Stop).
  std::vector<Run> TakeFinished() {
    std::vector<Run> finished;
    absl::MutexLock lock(&mu_);
    for (auto it = runs_.begin(); it != runs_.end();) {
      // A sink that launched from a monitor's thread cannot join that thread.
      if (it->second.monitor->Finished() &&
          it->second.thread.get_id() != std::this_thread::get_id()) {
        finished.push_back(std::move(it->second));
        it = runs_.erase(it);
      } else {
        ++it;
      }
    }
    return finished;
  }

  const ExecutorEventSink sink_;
  const LocalExecutorOptions options_;
  absl::Mutex shutdown_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::map<int64_t, Run> runs_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::unique_ptr<Executor> NewLocalExecutor(ExecutorEventSink sink,
                                           LocalExecutorOptions options) {
  return std::make_unique<LocalExecutor>(std::move(sink), options);
}

}  // namespace vernier::trial_runner
