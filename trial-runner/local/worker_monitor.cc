#include "trial-runner/local/worker_monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "trial-runner/stdout_metrics.h"

namespace vernier::trial_runner {
namespace {

using Clock = std::chrono::steady_clock;

// How often the worker's exit is checked when the kernel offers no pidfd.
constexpr auto kExitPollTick = std::chrono::milliseconds(50);
// A line longer than this is written to the log in pieces and not parsed.
constexpr size_t kMaxLineBytes = 64 * 1024;

// `now + d`, with d clamped so that an infinite duration does not overflow.
Clock::time_point After(Clock::time_point now, absl::Duration d) {
  d = std::clamp(d, absl::ZeroDuration(), absl::Hours(24 * 365));
  return now + std::chrono::duration_cast<Clock::duration>(
                   absl::ToChronoNanoseconds(d));
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// True when `pid` has exited (or cannot be waited for); leaves it unreaped,
// so that its pid, and with it the process group id, stays reserved.
bool HasExited(pid_t pid) {
  siginfo_t info = {};
  if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno != EINTR;
  }
  return info.si_pid == pid;
}

// One of the worker's output pipes. Copies whole lines to the log (so that
// stdout and stderr interleave by line) and hands each line to `on_line`.
class OutputStream {
 public:
  using LineHandler = std::function<void(absl::string_view)>;

  OutputStream(UniqueFd fd, int log_fd, LineHandler on_line)
      : fd_(std::move(fd)), log_fd_(log_fd), on_line_(std::move(on_line)) {}

  int fd() const { return fd_.get(); }
  bool open() const { return fd_.valid(); }

  // Reads what is available; at end of file, finishes.
  void ReadSome() {
    std::array<char, 64 * 1024> buffer;
    ssize_t n;
    do {
      n = read(fd_.get(), buffer.data(), buffer.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      Finish();
      return;
    }
    pending_.append(buffer.data(), static_cast<size_t>(n));
    const size_t last_newline = pending_.rfind('\n');
    if (last_newline != std::string::npos) {
      const absl::string_view lines(pending_.data(), last_newline + 1);
      Log(lines);
      size_t begin = 0;
      while (begin < lines.size()) {
        const size_t end = lines.find('\n', begin);
        if (!cut_) Parse(lines.substr(begin, end - begin));
        cut_ = false;
        begin = end + 1;
      }
      pending_.erase(0, last_newline + 1);
    }
    if (pending_.size() > kMaxLineBytes) {
      Log(pending_);
      pending_.clear();
      cut_ = true;
    }
  }

  // Writes out a last, unterminated line (terminated, so that later output
  // in the log starts on a line of its own) and closes the pipe.
  void Finish() {
    if (!pending_.empty()) {
      pending_.push_back('\n');
      Log(pending_);
      if (!cut_)
        Parse(absl::string_view(pending_).substr(0, pending_.size() - 1));
      pending_.clear();
    }
    fd_.Reset();
  }

 private:
  void Log(absl::string_view data) {
    if (!WriteAll(log_fd_, data) && !log_failed_) {
      log_failed_ = true;
      spdlog::warn("cannot write a worker's output to its log: {}",
                   std::strerror(errno));
    }
  }
  void Parse(absl::string_view line) {
    if (on_line_) on_line_(line);
  }

  UniqueFd fd_;
  const int log_fd_;
  const LineHandler on_line_;
  std::string pending_;  // the start of a line whose end has not come yet
  bool cut_ = false;     // pending_ continues a line cut at kMaxLineBytes
  bool log_failed_ = false;
};

}  // namespace

WorkerMonitor::WorkerMonitor(TrialLaunch launch, const ExecutorEventSink& sink,
                             const LocalExecutorOptions& options)
    : launch_(std::move(launch)),
      sink_(sink),
      options_(options),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void WorkerMonitor::RequestStop() {
  {
    absl::MutexLock lock(&mu_);
    stop_requested_ = true;
  }
  const uint64_t one = 1;
  if (wake_fd_.valid()) {
    [[maybe_unused]] ssize_t n = write(wake_fd_.get(), &one, sizeof one);
  }
}

bool WorkerMonitor::StopRequested() const {
  absl::MutexLock lock(&mu_);
  return stop_requested_;
}

void WorkerMonitor::FinishLaunch(WorkerExited exited) {
  spdlog::warn("trial {}: {}", launch_.trial_id,
               exited.launch_error.ToString());
  finished_.store(true, std::memory_order_release);
  sink_(std::move(exited));
  launched_.Notify();
}

void WorkerMonitor::Run() {
  WorkerExited exited;
  exited.trial_id = launch_.trial_id;
  UniqueFd log_fd(open(launch_.log_path.c_str(),
                       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!log_fd.valid()) {
    exited.launch_error = absl::ErrnoToStatus(
        errno, absl::StrCat("cannot open log file '", launch_.log_path, "'"));
    FinishLaunch(std::move(exited));
    return;
  }
  if (!wake_fd_.valid()) {
    exited.launch_error =
        absl::ResourceExhaustedError("cannot create an eventfd");
    FinishLaunch(std::move(exited));
    return;
  }
  absl::StatusOr<SpawnedWorker> worker =
      SpawnWorker(launch_.argv, launch_.env, launch_.working_dir,
                  launch_.cpus);
  if (!worker.ok()) {
    WriteAll(log_fd.get(),
             absl::StrCat("vernier: ", worker.status().message(), "\n"));
    exited.launch_error = worker.status();
    exited.log_tail = ReadLogTail(launch_.log_path, options_.log_tail_lines,
                                  options_.log_tail_max_bytes);
    FinishLaunch(std::move(exited));
    return;
  }

  const pid_t pid = worker->pid;
  WorkerStarted started;
  started.trial_id = launch_.trial_id;
  started.local_worker.set_pid(pid);
  // The worker is not reaped before Watch, so its stat is there to read.
  if (absl::StatusOr<ProcStat> stat = ReadProcStat(pid); stat.ok()) {
    started.local_worker.set_start_ticks(stat->start_ticks);
  } else {
    spdlog::warn("trial {}: cannot read the start time of worker {}: {}",
                 launch_.trial_id, pid, stat.status().ToString());
  }
  spdlog::debug("trial {}: worker {} started", launch_.trial_id, pid);
  sink_(std::move(started));
  launched_.Notify();

  Watch(*std::move(worker), log_fd.get(), exited);
  log_fd.Reset();
  exited.log_tail = ReadLogTail(launch_.log_path, options_.log_tail_lines,
                                options_.log_tail_max_bytes);
  spdlog::debug("trial {}: worker {} ended (code {}, signal {})",
                launch_.trial_id, pid, exited.exit_code.value_or(-1),
                exited.exit_signal.value_or(0));
  finished_.store(true, std::memory_order_release);
  sink_(std::move(exited));
}

void WorkerMonitor::PostMetricsIn(absl::string_view line) {
  std::optional<ParsedMetrics> parsed =
      ParseMetricLine(line, launch_.metric_names);
  if (!parsed.has_value()) return;
  MetricsObserved observed;
  observed.trial_id = launch_.trial_id;
  observed.step = parsed->step;
  observed.metrics = std::move(parsed->metrics);
  sink_(std::move(observed));
}

void WorkerMonitor::Watch(SpawnedWorker worker, int log_fd,
                          WorkerExited& exited) {
  const pid_t pid = worker.pid;  // also the group id
  OutputStream::LineHandler on_stdout_line;
  if (launch_.collect_stdout) {
    on_stdout_line = [this](absl::string_view line) { PostMetricsIn(line); };
  }
  OutputStream out(std::move(worker.stdout_fd), log_fd,
                   std::move(on_stdout_line));
  OutputStream err(std::move(worker.stderr_fd), log_fd, nullptr);
  // Readable when the worker exits; without it (old kernels) exit is polled.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

  std::optional<Clock::time_point> runtime_deadline;
  if (launch_.max_runtime > absl::ZeroDuration()) {
    runtime_deadline = After(Clock::now(), launch_.max_runtime);
  }
  std::optional<Clock::time_point> kill_deadline;
  std::optional<Clock::time_point> drain_deadline;  // set once it exited
  bool terminating = false;
  auto terminate = [&](Clock::time_point now) {
    terminating = true;
    kill(-pid, SIGTERM);
    if (launch_.stop_grace <= absl::ZeroDuration()) {
      kill(-pid, SIGKILL);
    } else {
      kill_deadline = After(now, launch_.stop_grace);
    }
  };

  // Invariant: the worker is reaped only once it has exited and its group
  // has been sent SIGKILL, so every kill(-pid) reaches its group and no other.
  while (true) {
    const Clock::time_point now = Clock::now();
    if (!drain_deadline.has_value()) {
      if (HasExited(pid)) {
        // Leaves no descendant running in the group; the unreaped leader
        // keeps the group id from being reused until this is done.
        kill(-pid, SIGKILL);
        int status = 0;
        pid_t reaped;
        do {
          reaped = waitpid(pid, &status, 0);
        } while (reaped < 0 && errno == EINTR);
        if (reaped != pid) {
          spdlog::warn("trial {}: cannot learn how worker {} exited: {}",
                       launch_.trial_id, pid, std::strerror(errno));
        } else if (WIFEXITED(status)) {
          exited.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
          exited.exit_signal = WTERMSIG(status);
        }
        pidfd.Reset();
        drain_deadline = After(now, options_.drain_timeout);
      } else {
        if (!terminating && StopRequested()) {
          exited.stopped = true;
          terminate(now);
        } else if (!terminating && runtime_deadline.has_value() &&
                   now >= *runtime_deadline) {
          exited.timed_out = true;
          terminate(now);
        }
        if (kill_deadline.has_value() && now >= *kill_deadline) {
          kill(-pid, SIGKILL);
          kill_deadline.reset();
        }
      }
    }
    if (drain_deadline.has_value() &&
        ((!out.open() && !err.open()) || now >= *drain_deadline)) {
      break;
    }

    std::optional<Clock::time_point> wake_at = drain_deadline;
    if (!drain_deadline.has_value()) {
      for (const auto& deadline :
           {terminating ? std::nullopt : runtime_deadline, kill_deadline}) {
        if (deadline.has_value() && (!wake_at || *deadline < *wake_at)) {
          wake_at = deadline;
        }
      }
      if (!pidfd.valid() && (!wake_at || now + kExitPollTick < *wake_at)) {
        wake_at = now + kExitPollTick;
      }
    }
    int timeout_ms = -1;
    if (wake_at.has_value()) {
      const auto wait =
          std::chrono::ceil<std::chrono::milliseconds>(*wake_at - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, wait.count()));
    }

    std::array<pollfd, 4> fds;
    nfds_t count = 0;
    const auto watch = [&](int fd) -> pollfd* {
      if (fd < 0) return nullptr;
      fds[count] = pollfd{.fd = fd, .events = POLLIN, .revents = 0};
      return &fds[count++];
    };
    const pollfd* out_poll = watch(out.fd());
    const pollfd* err_poll = watch(err.fd());
    const pollfd* wake_poll = watch(wake_fd_.get());
    watch(pidfd.get());
    if (poll(fds.data(), count, timeout_ms) < 0 && errno != EINTR) {
      spdlog::warn("trial {}: poll failed: {}", launch_.trial_id,
                   std::strerror(errno));
      absl::SleepFor(absl::Milliseconds(10));
      continue;
    }
    if (out_poll != nullptr && out_poll->revents != 0) out.ReadSome();
    if (err_poll != nullptr && err_poll->revents != 0) err.ReadSome();
    if (wake_poll != nullptr && wake_poll->revents != 0) {
      uint64_t ignored;
      [[maybe_unused]] ssize_t n =
          read(wake_fd_.get(), &ignored, sizeof ignored);
    }
  }
  if (out.open() || err.open()) {
    spdlog::warn(
        "trial {}: output pipes of worker {} still open {} after it exited "
        "(a descendant left its process group?); not reading them further",
        launch_.trial_id, pid, absl::FormatDuration(options_.drain_timeout));
  }
  out.Finish();
  err.Finish();
}

}  // namespace vernier::trial_runner
