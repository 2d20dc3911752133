// Linux process primitives of the local executor: start a worker in a
// process group of its own, read /proc, find and kill what is left of a
// group, read the end of a log file.
#ifndef VERNIER_TRIAL_RUNNER_LOCAL_PROCESS_H_
#define VERNIER_TRIAL_RUNNER_LOCAL_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vernier::trial_runner {

// Owns a file descriptor; closes it when destroyed. -1 means none.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// The fields of /proc/PID/stat that the executor uses.
struct ProcStat {
  pid_t pid = 0;
  char state = '?';  // 'R', 'S', 'Z' (zombie), ...
  pid_t pgrp = 0;
  pid_t session = 0;
  uint64_t start_ticks = 0;  // field 22: start time in clock ticks since boot
};

// The contents of a /proc/PID/stat file; nullopt when malformed. The command
// name may hold spaces and parentheses, so fields are read after the last ')'.
std::optional<ProcStat> ParseProcStat(absl::string_view text);

// NOT_FOUND when no process (not even a zombie) has this pid.
absl::StatusOr<ProcStat> ReadProcStat(pid_t pid);

// The processes of process group `pgid` that have not exited (zombies are
// left out). Reads every /proc/PID/stat: meant for rare calls.
std::vector<ProcStat> ListLiveProcessGroup(pid_t pgid);

// A worker process just past a successful exec.
struct SpawnedWorker {
  pid_t pid = -1;      // also its process group and session id
  UniqueFd stdout_fd;  // read ends of the worker's stdout and stderr pipes
  UniqueFd stderr_fd;
};

// Forks and execs `argv` (argv[0] looked up on the PATH of the resulting
// environment when it has no '/') in a new session and process group, in
// `working_dir` (this process's when empty), with this process's environment
// plus `env` (which wins), stdin from /dev/null, stdout and stderr into two new
// pipes, and pinned to the cores `cpus` when not empty (the kernel refuses
// cores this process may not use: INVALID_ARGUMENT). The worker gets SIGKILL
// when the calling thread ends
// (PR_SET_PDEATHSIG): the calling thread must outlive the worker. Returns after
// the exec succeeded; the caller owns the child and must reap it. On failure
// nothing is left running, and the status says what could not be done, e.g.
// "cannot run 'foo': No such file or directory" (NOT_FOUND).
absl::StatusOr<SpawnedWorker> SpawnWorker(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env,
    const std::string& working_dir, const std::vector<int>& cpus = {});

// Kills what is left of a worker that SpawnWorker started earlier, maybe in
// a process that has since died: the process group `pid`, provided its leader
// is the same process (its start time is `start_ticks`). When the leader is
// gone, kills the group members that are in session `pid` and started no
// earlier than `start_ticks`: a pid stays reserved while its group exists, so
// these can only be the worker's descendants. Leaves alone a different
// process that reuses the pid. Waits until no member is alive; OK then, or
// when nothing matched; DEADLINE_EXCEEDED when members survive `timeout`.
absl::Status KillWorkerGroup(pid_t pid, uint64_t start_ticks,
                             absl::Duration timeout);

// The last `max_lines` lines of the file at `path`, reading at most its last
// `max_bytes` bytes (a line cut by that bound is left out). Empty when the
// file cannot be read.
std::string ReadLogTail(const std::string& path, int max_lines,
                        int64_t max_bytes);

}  // namespace vernier::trial_runner

#endif  // VERNIER_TRIAL_RUNNER_LOCAL_PROCESS_H_
