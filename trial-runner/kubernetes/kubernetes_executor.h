// The Kubernetes executor: runs each trial of one study as a batch/v1 Job.
//
// Launch posts WorkerStarted at once and creates the trial's Job (see
// job_builder.h) and its token Secret on a thread of its own. Creation waits,
// without failing, for a free slot of the server-wide cap (JobSlots) and
// through 403 "exceeded quota" answers, posting WorkerWaiting with the
// reason. One watch of the study's Jobs and one of their pods (resumed from
// their resourceVersion, listed again on 410 Gone) follow each trial: a pod
// that cannot be scheduled or pull its image is posted as WorkerWaiting, and
// fails the trial once it has waited pending_timeout; the Job's Complete and
// Failed conditions end it (DeadlineExceeded as timed_out). On the end the
// pod's log is written to the launch's log_path and its tail posted.
// Stop deletes the Job (propagationPolicy Background: its pods and Secret go
// with it). Adopt lists the Jobs labelled with its study and owner (an
// earlier process's): the unfinished Job of each trial offered, whose token
// Secret is still the Job's own, is followed again as if launched here, with
// that token; every other is deleted. Reclaim deletes one trial's Job.
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_KUBERNETES_EXECUTOR_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_KUBERNETES_EXECUTOR_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "trial-runner/executor.h"
#include "trial-runner/kubernetes/kube_client.h"
#include "trial-runner/kubernetes/kubeconfig.h"
#include "vernier/v1/study.pb.h"

namespace vernier::kubernetes {

// A server-wide cap on running Jobs, shared by the executors of every study.
// Thread-safe.
class JobSlots {
 public:
  // `capacity` <= 0: no cap.
  explicit JobSlots(int capacity) : capacity_(capacity) {}
  // Takes a slot; false (without one) when `cancelled` turned true, which is
  // checked at least every `poll`.
  bool Acquire(const std::function<bool()>& cancelled,
               absl::Duration poll = absl::Seconds(1));
  // Counts a Job that already runs (an adopted one), even past the cap.
  void AcquireRunning();
  void Release();
  int capacity() const { return capacity_; }

 private:
  const int capacity_;
  absl::Mutex mu_;
  int used_ ABSL_GUARDED_BY(mu_) = 0;
};

struct KubernetesExecutorOptions {
  // The study whose trials this executor runs, and the server that owns the
  // Jobs (a label value).
  std::string study;
  std::string owner = "vernier";
  // Shared by every executor of the server; null: no cap.
  std::shared_ptr<JobSlots> slots;
  // Between attempts to create a Job refused for an exceeded quota.
  absl::Duration quota_retry = absl::Seconds(30);
  // A trial whose pod waits longer (unschedulable, image pull) fails;
  // worker.kubernetes.pending_timeout overrides it.
  absl::Duration pending_timeout = absl::Minutes(10);
  // The server ends each watch after this long; it is then resumed.
  absl::Duration watch_timeout = absl::Minutes(5);
  int log_tail_lines = 30;
  // At most this much of a pod's log is fetched.
  int64_t log_limit_bytes = 4 << 20;
  Clock clock = [] { return absl::Now(); };
};

std::unique_ptr<trial_runner::Executor> NewKubernetesExecutor(
    const v1::KubernetesWorkerSpec& spec, std::shared_ptr<KubeClient> client,
    trial_runner::ExecutorEventSink sink, KubernetesExecutorOptions options);

// Makes the executor of each study with kubernetes workers, on the
// credentials of its context (resolved from `sources` when the study starts;
// an error naming the context when they cannot be). All share the owner
// label `owner` and one cap of `max_jobs` running Jobs (0: none).
using StudyExecutorFactory =
    std::function<absl::StatusOr<std::unique_ptr<trial_runner::Executor>>(
        const v1::Study& study, trial_runner::ExecutorEventSink sink)>;
StudyExecutorFactory KubernetesExecutorFactory(
    KubeconfigSources sources, std::string owner, int max_jobs,
    KubeClientOptions client_options = {});

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_KUBERNETES_EXECUTOR_H_
