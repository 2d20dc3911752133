#include "trial-runner/local/device_pool.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace vernier::trial_runner {
namespace {

std::vector<std::string> WithoutDuplicates(std::vector<std::string> devices) {
  std::vector<std::string> unique;
  for (std::string& device : devices) {
    if (std::find(unique.begin(), unique.end(), device) == unique.end()) {
      unique.push_back(std::move(device));
    }
  }
  return unique;
}

// Runs argv, returning its stdout and exit status, or nullopt when it could
// not be started.
std::optional<std::pair<std::string, int>> RunCapturingStdout(
    const std::vector<std::string>& argv, std::string* error) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *error = absl::StrCat("pipe: ", std::strerror(errno));
    return std::nullopt;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    *error = absl::StrCat("cannot run ", argv[0], ": ", std::strerror(spawned));
    return std::nullopt;
  }
  std::string output;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(pipe_fds[0], buffer, sizeof buffer)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    output.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return std::make_pair(std::move(output),
                        WIFEXITED(status) ? WEXITSTATUS(status) : 128);
}

}  // namespace

DevicePool::DevicePool(std::vector<std::string> devices)
    : devices_(WithoutDuplicates(std::move(devices))) {}

std::optional<std::vector<std::string>> DevicePool::TryAcquire(
    int64_t requester, int count, const std::vector<std::string>& allowed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto mine = std::find_if(
      waiting_.begin(), waiting_.end(),
      [requester](const Waiter& w) { return w.requester == requester; });
  if (mine == waiting_.end()) {
    waiting_.push_back(Waiter{requester, count, allowed});
    mine = std::prev(waiting_.end());
  } else {
    mine->count = count;
    mine->allowed = allowed;
  }
  // Devices that a waiter ahead could use are kept for it.
  std::set<std::string> reserved;
  for (auto it = waiting_.begin(); it != mine; ++it) {
    const std::vector<std::string>& wanted =
        it->allowed.empty() ? devices_ : it->allowed;
    reserved.insert(wanted.begin(), wanted.end());
  }
  std::vector<std::string> devices;
  for (const std::string& device : allowed.empty() ? devices_ : allowed) {
    if (static_cast<int>(devices.size()) == count) break;
    if (!held_.contains(device) && !reserved.contains(device)) {
      devices.push_back(device);
    }
  }
  if (static_cast<int>(devices.size()) < count) return std::nullopt;
  held_.insert(devices.begin(), devices.end());
  waiting_.erase(mine);
  return devices;
}

void DevicePool::Release(const std::vector<std::string>& devices) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& device : devices) held_.erase(device);
}

void DevicePool::Withdraw(int64_t requester) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = std::find_if(
      waiting_.begin(), waiting_.end(),
      [requester](const Waiter& w) { return w.requester == requester; });
  if (it != waiting_.end()) waiting_.erase(it);
}

int DevicePool::held_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(held_.size());
}

std::vector<std::string> DiscoverGpus(const std::string& nvidia_smi,
                                      std::string* error) {
  std::string ignored;
  std::string& why = error != nullptr ? *error : ignored;
  std::optional<std::pair<std::string, int>> run = RunCapturingStdout(
      {nvidia_smi, "--query-gpu=index,uuid,name", "--format=csv,noheader"},
      &why);
  if (!run.has_value()) return {};
  if (run->second != 0) {
    why = absl::StrCat(nvidia_smi, " exited with code ", run->second);
    return {};
  }
  std::vector<std::string> gpus;
  for (absl::string_view line :
       absl::StrSplit(run->first, '\n', absl::SkipWhitespace())) {
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    const absl::string_view index = absl::StripAsciiWhitespace(fields[0]);
    int parsed = 0;
    if (!absl::SimpleAtoi(index, &parsed) || parsed < 0) {
      why = absl::StrCat(nvidia_smi, " printed an unexpected line: ", line);
      return {};
    }
    gpus.emplace_back(index);
  }
  if (gpus.empty()) why = absl::StrCat(nvidia_smi, " lists no GPU");
  return gpus;
}

std::vector<std::string> AvailableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<std::string> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(absl::StrCat(cpu));
  }
  return cpus;
}

}  // namespace vernier::trial_runner
