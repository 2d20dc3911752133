#include "bench/report_load.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

namespace vernier::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One run of the load. Thread ownership: a Slot is touched only by the
// callback chain of its own reports, which are sequential; the driver reads
// the slots only after every slot has retired. `mu_` guards the count of
// active slots.
class LoadRun {
 public:
  LoadRun(const LoadOptions& options, const ReportFn& report)
      : options_(options),
        report_(report),
        next_step_(static_cast<size_t>(options.clients)) {
    for (int client = 0; client < options.clients; ++client) {
      for (int k = 0; k < options.inflight; ++k) {
        slots_.push_back(std::make_unique<Slot>(Slot{.client = client}));
      }
    }
  }

  LoadResult Run() {
    const Clock::time_point start =
        options_.start_at_ns > 0
            ? Clock::time_point(std::chrono::nanoseconds(options_.start_at_ns))
            : Clock::now();
    std::this_thread::sleep_until(start);
    window_start_ = start + ToChrono(options_.warmup);
    window_end_ = window_start_ + ToChrono(options_.measure);
    active_ = static_cast<int>(slots_.size());
    for (const std::unique_ptr<Slot>& slot : slots_) Issue(slot.get());

    std::this_thread::sleep_until(window_start_);
    const CpuSnapshot cpu_before = TakeCpuSnapshot();
    if (options_.on_window_start) options_.on_window_start();
    std::this_thread::sleep_until(window_end_);
    const CpuSnapshot cpu_after = TakeCpuSnapshot();
    if (options_.on_window_end) options_.on_window_end();

    LoadResult result;
    {
      std::unique_lock<std::mutex> lock(mu_);
      result.hung = !retired_.wait_for(
          lock, ToChrono(options_.drain_timeout),
          [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return active_ == 0; });
    }
    result.window = options_.measure;
    result.cpu = CpuBetween(cpu_before, cpu_after);
    if (result.hung) return result;  // the slots are still in use

    result.acked_steps.resize(static_cast<size_t>(options_.clients));
    for (const std::unique_ptr<Slot>& slot : slots_) {
      std::vector<int64_t>& acked =
          result.acked_steps[static_cast<size_t>(slot->client)];
      acked.insert(acked.end(), slot->acked.begin(), slot->acked.end());
      result.window_acked += slot->window_acked;
      result.window_latencies_us.insert(result.window_latencies_us.end(),
                                        slot->latencies_us.begin(),
                                        slot->latencies_us.end());
      if (!slot->failure.ok()) {
        const std::string code = absl::StatusCodeToString(slot->failure.code());
        if (result.failures[code]++ == 0) {
          result.failure_examples[code] = std::string(slot->failure.message());
        }
      }
    }
    return result;
  }

 private:
  struct Slot {
    int client = 0;
    std::vector<int64_t> acked;
    std::vector<int64_t> latencies_us;
    int64_t window_acked = 0;
    absl::Status failure;
  };

  static Clock::duration ToChrono(absl::Duration d) {
    return std::chrono::duration_cast<Clock::duration>(
        absl::ToChronoNanoseconds(d));
  }

  void Issue(Slot* slot) {
    if (Clock::now() >= window_end_) return Retire();
    const int count = options_.batch;
    const int64_t first =
        next_step_[static_cast<size_t>(slot->client)].fetch_add(count);
    const Clock::time_point start = Clock::now();
    report_(slot->client, first, count, [this, slot, first, count,
                                         start](absl::Status status) {
      const Clock::time_point end = Clock::now();
      if (!status.ok()) {
        slot->failure = std::move(status);
        return Retire();
      }
      for (int64_t step = first; step < first + count; ++step) {
        slot->acked.push_back(step);
      }
      if (end >= window_start_ && end < window_end_) {
        slot->window_acked += count;
        slot->latencies_us.push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(end - start)
                .count());
      }
      Issue(slot);
    });
  }

  void Retire() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--active_ == 0) retired_.notify_all();
  }

  const LoadOptions options_;
  const ReportFn& report_;
  std::vector<std::atomic<int64_t>> next_step_;  // per client
  std::vector<std::unique_ptr<Slot>> slots_;
  Clock::time_point window_start_, window_end_;  // set before any report

  std::mutex mu_;
  std::condition_variable retired_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

CpuSnapshot TakeCpuSnapshot() {
  CpuSnapshot snapshot;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task", error)) {
    CpuSnapshot::Thread thread;
    std::ifstream comm(entry.path() / "comm");
    std::ifstream schedstat(entry.path() / "schedstat");
    if (!std::getline(comm, thread.name)) continue;
    if (!(schedstat >> thread.run_ns >> thread.wait_ns)) continue;
    snapshot.threads[std::stoll(entry.path().filename().string())] = thread;
  }
  snapshot.process_seconds = ProcessCpuSeconds();
  return snapshot;
}

CpuUse CpuBetween(const CpuSnapshot& before, const CpuSnapshot& after) {
  CpuUse use;
  use.process_seconds = after.process_seconds - before.process_seconds;
  for (const auto& [tid, now] : after.threads) {
    const auto it = before.threads.find(tid);
    const CpuSnapshot::Thread then =
        it == before.threads.end() ? CpuSnapshot::Thread{} : it->second;
    ThreadCpu& sum = use.by_thread[now.name];
    ++sum.threads;
    sum.run_seconds += static_cast<double>(now.run_ns - then.run_ns) / 1e9;
    sum.wait_seconds += static_cast<double>(now.wait_ns - then.wait_ns) / 1e9;
  }
  return use;
}

LoadResult RunLoad(const LoadOptions& options, const ReportFn& report) {
  auto run = std::make_unique<LoadRun>(options, report);
  LoadResult result = run->Run();
  // Reports still outstanding would touch the run: leave it to them.
  if (result.hung) run.release();
  return result;
}

int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = static_cast<size_t>(std::max(1.0, rank)) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace vernier::bench
