#include "trial-runner/local/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace vernier::trial_runner {
namespace {

// What the child writes to the status pipe when it cannot exec; the pipe is
// close-on-exec, so an exec that succeeds shows as end-of-file.
enum class ChildStage : int { kSetup = 1, kChdir = 2, kExec = 3, kPin = 4 };
struct ChildFailure {
  int stage;
  int error;
};

// Everything the child needs, prepared before fork: between fork and exec the
// child of a multithreaded process may only make async-signal-safe calls, so
// it must not allocate.
struct ChildPlan {
  char* const* argv;
  char* const* envp;
  const char* working_dir;  // nullptr: stay where the parent is
  const cpu_set_t* cpus;    // nullptr: no pinning
  pid_t parent;
  int stdout_fd;
  int stderr_fd;
  int status_fd;
};

[[noreturn]] void FailChild(const ChildPlan& plan, ChildStage stage,
                            int error) {
  const ChildFailure failure{static_cast<int>(stage), error};
  [[maybe_unused]] ssize_t written =
      write(plan.status_fd, &failure, sizeof failure);
  _exit(127);
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  if (setsid() < 0) FailChild(plan, ChildStage::kSetup, errno);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    FailChild(plan, ChildStage::kSetup, errno);
  }
  // The parent may have died before prctl took effect.
  if (getppid() != plan.parent) _exit(127);

  // Ignored signals and the signal mask survive exec: the worker starts with
  // the defaults whatever this process changed (gRPC ignores SIGPIPE).
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &default_action, nullptr);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  sigprocmask(SIG_SETMASK, &no_signals, nullptr);

  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
      dup2(plan.stdout_fd, STDOUT_FILENO) < 0 ||
      dup2(plan.stderr_fd, STDERR_FILENO) < 0) {
    FailChild(plan, ChildStage::kSetup, errno);
  }
  // Descriptors another module opened without O_CLOEXEC must not leak into
  // the worker (a leaked pipe end would keep another trial's pipe open).
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

  if (plan.cpus != nullptr &&
      sched_setaffinity(0, sizeof(cpu_set_t), plan.cpus) != 0) {
    FailChild(plan, ChildStage::kPin, errno);
  }
  if (plan.working_dir != nullptr && chdir(plan.working_dir) != 0) {
    FailChild(plan, ChildStage::kChdir, errno);
  }
  // execvp searches the PATH of `environ`, so the worker's own PATH counts.
  environ = const_cast<char**>(plan.envp);
  execvp(plan.argv[0], plan.argv);
  FailChild(plan, ChildStage::kExec, errno);
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "cannot create a pipe");
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// This process's environment with `env` added; `env` wins.
std::vector<std::string> MergedEnvironment(
    const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> entries;  // name -> "name=value"
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const absl::string_view text(*entry);
    // The first definition is the one getenv sees.
    entries.emplace(std::string(text.substr(0, text.find('='))),
                    std::string(text));
  }
  for (const auto& [name, value] : env) {
    entries[name] = absl::StrCat(name, "=", value);
  }
  std::vector<std::string> merged;
  merged.reserve(entries.size());
  for (auto& [name, entry] : entries) merged.push_back(std::move(entry));
  return merged;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

void ReapBlocking(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

std::optional<ProcStat> ParseProcStat(absl::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos ||
      close < open) {
    return std::nullopt;
  }
  ProcStat stat;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(0, open)),
                        &stat.pid)) {
    return std::nullopt;
  }
  // Fields from the third (state) on.
  const std::vector<absl::string_view> fields = absl::StrSplit(
      text.substr(close + 1), absl::ByAnyChar(" \n"), absl::SkipEmpty());
  constexpr size_t kStateIndex = 0;       // field 3
  constexpr size_t kPgrpIndex = 2;        // field 5
  constexpr size_t kSessionIndex = 3;     // field 6
  constexpr size_t kStartTimeIndex = 19;  // field 22
  if (fields.size() <= kStartTimeIndex || fields[kStateIndex].size() != 1) {
    return std::nullopt;
  }
  stat.state = fields[kStateIndex][0];
  if (!absl::SimpleAtoi(fields[kPgrpIndex], &stat.pgrp) ||
      !absl::SimpleAtoi(fields[kSessionIndex], &stat.session) ||
      !absl::SimpleAtoi(fields[kStartTimeIndex], &stat.start_ticks)) {
    return std::nullopt;
  }
  return stat;
}

absl::StatusOr<ProcStat> ReadProcStat(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ESRCH) {
      return absl::NotFoundError(absl::StrCat("no process ", pid));
    }
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  }
  // One read: the kernel produces the whole line at once.
  char buffer[1024];
  ssize_t n;
  do {
    n = read(fd.get(), buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    // The process went away between open and read.
    if (errno == ESRCH) {
      return absl::NotFoundError(absl::StrCat("no process ", pid));
    }
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
  }
  std::optional<ProcStat> stat =
      ParseProcStat(absl::string_view(buffer, static_cast<size_t>(n)));
  if (!stat.has_value()) {
    return absl::InternalError(absl::StrCat("cannot parse ", path));
  }
  return *stat;
}

std::vector<ProcStat> ListLiveProcessGroup(pid_t pgid) {
  std::vector<ProcStat> members;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return members;
  while (const dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 0) continue;
    absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
    if (stat.ok() && stat->pgrp == pgid && stat->state != 'Z' &&
        stat->state != 'X') {
      members.push_back(*stat);
    }
  }
  closedir(proc);
  return members;
}

absl::StatusOr<SpawnedWorker> SpawnWorker(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env,
    const std::string& working_dir, const std::vector<int>& cpus) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError("the command is empty");
  }
  cpu_set_t cpu_set;
  CPU_ZERO(&cpu_set);
  for (int cpu : cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(absl::StrCat("no CPU core ", cpu));
    }
    CPU_SET(cpu, &cpu_set);
  }
  std::vector<std::string> argv_copy = argv;
  std::vector<std::string> env_entries = MergedEnvironment(env);
  const std::vector<char*> argv_c = CStrings(argv_copy);
  const std::vector<char*> envp_c = CStrings(env_entries);

  absl::StatusOr<Pipe> out = MakePipe();
  if (!out.ok()) return out.status();
  absl::StatusOr<Pipe> err = MakePipe();
  if (!err.ok()) return err.status();
  absl::StatusOr<Pipe> status = MakePipe();
  if (!status.ok()) return status.status();

  const ChildPlan plan{
      .argv = argv_c.data(),
      .envp = envp_c.data(),
      .working_dir = working_dir.empty() ? nullptr : working_dir.c_str(),
      .cpus = cpus.empty() ? nullptr : &cpu_set,
      .parent = getpid(),
      .stdout_fd = out->write_end.get(),
      .stderr_fd = err->write_end.get(),
      .status_fd = status->write_end.get(),
  };
  const pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "cannot fork");
  if (pid == 0) RunChild(plan);

  out->write_end.Reset();
  err->write_end.Reset();
  status->write_end.Reset();
  ChildFailure failure{};
  size_t got = 0;
  while (got < sizeof failure) {
    const ssize_t n =
        read(status->read_end.get(), reinterpret_cast<char*>(&failure) + got,
             sizeof failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == 0) {
    return SpawnedWorker{pid, std::move(out->read_end),
                         std::move(err->read_end)};
  }
  ReapBlocking(pid);
  if (got < sizeof failure) {
    return absl::InternalError("the worker process failed during set-up");
  }
  switch (static_cast<ChildStage>(failure.stage)) {
    case ChildStage::kChdir:
      return absl::ErrnoToStatus(
          failure.error,
          absl::StrCat("cannot enter working directory '", working_dir, "'"));
    case ChildStage::kExec:
      return absl::ErrnoToStatus(failure.error,
                                 absl::StrCat("cannot run '", argv[0], "'"));
    case ChildStage::kPin:
      return absl::ErrnoToStatus(
          failure.error, absl::StrCat("cannot pin the worker to cores ",
                                      absl::StrJoin(cpus, ",")));
    case ChildStage::kSetup:
      break;
  }
  return absl::ErrnoToStatus(failure.error, "cannot set up the worker process");
}

absl::Status KillWorkerGroup(pid_t pid, uint64_t start_ticks,
                             absl::Duration timeout) {
  if (pid <= 0 || start_ticks == 0) return absl::OkStatus();
  absl::StatusOr<ProcStat> leader = ReadProcStat(pid);
  if (!leader.ok() && !absl::IsNotFound(leader.status())) {
    return leader.status();
  }
  // Another process holds the pid: the worker's group is empty, since a pid
  // is not reused while a group of that id exists.
  if (leader.ok() && leader->start_ticks != start_ticks) {
    return absl::OkStatus();
  }
  const bool leader_is_worker = leader.ok();
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (leader_is_worker) kill(-pid, SIGKILL);
    std::vector<ProcStat> members = ListLiveProcessGroup(pid);
    std::erase_if(members, [&](const ProcStat& member) {
      return member.session != pid || member.start_ticks < start_ticks;
    });
    if (members.empty()) return absl::OkStatus();
    for (const ProcStat& member : members) kill(member.pid, SIGKILL);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "process group ", pid, " still has ", members.size(),
          " live processes after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

std::string ReadLogTail(const std::string& path, int max_lines,
                        int64_t max_bytes) {
  if (max_lines <= 0 || max_bytes <= 0) return "";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info;
  if (!fd.valid() || fstat(fd.get(), &info) != 0) return "";
  const int64_t size = info.st_size;
  // One byte more than asked: it tells whether the first line is whole.
  const int64_t offset = std::max<int64_t>(0, size - max_bytes - 1);
  std::string buffer(static_cast<size_t>(size - offset), '\0');
  size_t got = 0;
  while (got < buffer.size()) {
    const ssize_t n = pread(fd.get(), buffer.data() + got, buffer.size() - got,
                            offset + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  buffer.resize(got);
  absl::string_view text = buffer;
  if (offset > 0) {
    const size_t first_newline = text.find('\n');
    if (first_newline == absl::string_view::npos) return "";
    text.remove_prefix(first_newline + 1);
  }
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  size_t begin = end;
  int lines = 0;
  while (begin > 0) {
    if (text[begin - 1] == '\n' && ++lines == max_lines) break;
    --begin;
  }
  return std::string(text.substr(begin));
}

}  // namespace vernier::trial_runner
