// The load of bench/ingest: N clients, each reporting measurements of its own
// trial with K reports in flight, for a fixed time; what was acknowledged,
// how fast, and where the CPU went.
//
// The load is closed-loop: each of a client's K slots issues a report of B
// measurements (consecutive steps), waits for its answer and issues the next
// one at once, so at most N*K reports are outstanding. Steps are numbered per
// client from 0 in issue order; every measurement of a run has a distinct
// (client, step).
#ifndef VERNIER_BENCH_REPORT_LOAD_H_
#define VERNIER_BENCH_REPORT_LOAD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace vernier::bench {

struct LoadOptions {
  int clients = 64;
  int inflight = 4;  // reports outstanding per client
  int batch = 1;     // measurements per report
  // Reports answered during the warm-up count as acknowledged (they are
  // verified) but not in the rate or the latencies.
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration measure = absl::Seconds(10);
  // A client whose reports are still unanswered this long after the
  // measured window ends is abandoned (the run is then reported as hung).
  absl::Duration drain_timeout = absl::Seconds(60);
  // When the load starts, as std::chrono::steady_clock nanoseconds
  // (CLOCK_MONOTONIC, the same clock in every process); 0 for at once.
  int64_t start_at_ns = 0;
  // Called on the driving thread as the measured window opens and closes.
  std::function<void()> on_window_start, on_window_end;
};

// Issues one report of the `count` measurements of steps first_step,
// first_step + 1, ... for client `client` and calls `done` exactly once, from
// any thread, when it is acknowledged (OK) or has failed. `done` may issue the
// next report; `report` must not call `done` on success before returning (a
// failure may be answered inline). Thread-safe.
using ReportFn =
    std::function<void(int client, int64_t first_step, int count,
                       std::function<void(absl::Status)> done)>;

// What this process's threads of one name did during the measured window
// (/proc/self/task/*/comm and schedstat).
struct ThreadCpu {
  int threads = 0;
  double run_seconds = 0;   // on a CPU
  double wait_seconds = 0;  // ready to run, waiting for a CPU
};
using CpuByThread = std::map<std::string, ThreadCpu>;

struct CpuUse {
  CpuByThread by_thread;
  double process_seconds = 0;  // user + system of the whole process
};

// The CPU times of this process and its threads at one moment.
struct CpuSnapshot {
  struct Thread {
    std::string name;
    int64_t run_ns = 0, wait_ns = 0;
  };
  std::map<int64_t, Thread> threads;  // by thread id
  double process_seconds = 0;
};
CpuSnapshot TakeCpuSnapshot();
// What was used between two snapshots (threads that ended between them are
// left out).
CpuUse CpuBetween(const CpuSnapshot& before, const CpuSnapshot& after);

struct LoadResult {
  // Per client: every step acknowledged OK (any order), warm-up included.
  std::vector<std::vector<int64_t>> acked_steps;
  // Reports that failed, by status code name; the first message of each.
  std::map<std::string, int64_t> failures;
  std::map<std::string, std::string> failure_examples;
  // Measurements acknowledged inside the measured window, and the latencies
  // of their reports (µs, one per report: its measurements share it).
  int64_t window_acked = 0;
  std::vector<int64_t> window_latencies_us;
  absl::Duration window;
  bool hung = false;  // some client never got its last answers
  CpuUse cpu;         // of this process, during the measured window
};

// Runs the load and returns once every report has been answered (or the
// drain timeout passed). Failed reports are not retried: the slot that got
// the failure stops issuing.
LoadResult RunLoad(const LoadOptions& options, const ReportFn& report);

// The p-th percentile (0..100) of `sorted` (ascending), nearest rank; 0 for
// none.
int64_t Percentile(const std::vector<int64_t>& sorted, double p);

}  // namespace vernier::bench

#endif  // VERNIER_BENCH_REPORT_LOAD_H_
