// The local executor: runs each trial as a process group on this machine.
//
// A worker runs in a session and process group of its own (its pid is the
// group id), with the launch's environment and working directory, stdin from
// /dev/null, and stdout and stderr appended line by line to the launch's log
// file. Stopping it (Stop, max_runtime, Shutdown) sends SIGTERM to the whole
// group, then SIGKILL after the launch's stop_grace. When the worker's main
// process exits, whatever is left of its group is killed at once. Each
// worker gets SIGKILL when the thread that watches it, or this process, dies,
// so no worker outlives its executor; Reclaim cleans up after a crash all the
// same (descendants of a worker do not get that signal).
#ifndef VERNIER_TRIAL_RUNNER_LOCAL_LOCAL_EXECUTOR_H_
#define VERNIER_TRIAL_RUNNER_LOCAL_LOCAL_EXECUTOR_H_

#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "trial-runner/executor.h"

namespace vernier::trial_runner {

struct LocalExecutorOptions {
  // WorkerExited.log_tail holds the last this many lines of the log file...
  int log_tail_lines = 30;
  // ...read from at most its last this many bytes.
  int64_t log_tail_max_bytes = 64 * 1024;
  // After the worker's main process exits, its output is still read until
  // the pipes close, for at most this long: a descendant that left the group
  // may hold them open forever.
  absl::Duration drain_timeout = absl::Seconds(2);
  // Reclaim gives up (DEADLINE_EXCEEDED) when the group survives this long.
  absl::Duration reclaim_timeout = absl::Seconds(10);
};

// An Executor that runs workers as local processes; see the file comment.
// Each launched trial gets a thread that starts the worker, reads its output
// and posts all of the trial's events, in order. Launch returns after
// WorkerStarted, or the WorkerExited of a failed launch, was posted. Launching
// a trial id that still runs, or launching after Shutdown, posts a
// WorkerExited with launch_error (ALREADY_EXISTS, FAILED_PRECONDITION) from
// the calling thread. When Stop and max_runtime both apply, the first wins:
// WorkerExited has either stopped or timed_out set.
std::unique_ptr<Executor> NewLocalExecutor(ExecutorEventSink sink,
                                           LocalExecutorOptions options = {});

}  // namespace vernier::trial_runner

#endif  // VERNIER_TRIAL_RUNNER_LOCAL_LOCAL_EXECUTOR_H_
