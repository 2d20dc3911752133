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

std::vector<std::string> DevicePool::FreeAmong(
    int count, const std::vector<std::string>& allowed) const {
  std::vector<std::string> found;
  for (const std::string& device : devices_) {
    if (static_cast<int>(found.size()) == count) break;
    if (held_.contains(device)) continue;
    if (!allowed.empty() &&
        std::find(allowed.begin(), allowed.end(), device) == allowed.end()) {
      continue;
    }
    found.push_back(device);
  }
  return found;
}

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
  // Only the first waiter that can be served now may take devices; a waiter
  // ahead that cannot be served blocks the ones behind it.
  const Waiter& first = waiting_.front();
  if (first.requester != requester) return std::nullopt;
  std::vector<std::string> devices = FreeAmong(count, allowed);
  if (static_cast<int>(devices.size()) < count) return std::nullopt;
  held_.insert(devices.begin(), devices.end());
  waiting_.pop_front();
  return devices;
}

void DevicePool::Release(const std::vector<std::string>& devices) {
  std::function<void()> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& device : devices) held_.erase(device);
    listener = on_release_;
  }
  if (listener) listener();
}

void DevicePool::Withdraw(int64_t requester) {
  std::function<void()> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = std::find_if(
        waiting_.begin(), waiting_.end(),
        [requester](const Waiter& w) { return w.requester == requester; });
    if (it == waiting_.end()) return;
    const bool was_first = it == waiting_.begin();
    waiting_.erase(it);
    // The next in line may be servable now.
    if (was_first) listener = on_release_;
  }
  if (listener) listener();
}

void DevicePool::SetReleaseListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  on_release_ = std::move(listener);
}

int DevicePool::free_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(devices_.size() - held_.size());
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
