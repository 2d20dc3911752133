// DevicePool: devices that a trial holds exclusively while it runs (GPUs, CPU
// cores), shared by every study of a process and handed out in turn.
//
// Requests are served in the order their requesters (studies) came to wait:
// while the first waiting requester cannot be served, later ones are refused
// even when enough devices are free for them, so a study that needs two GPUs
// is not starved by others that take one at a time. A requester that is
// refused stays queued until it is served or withdraws; once served it goes
// to the back of the queue the next time it asks, so studies take turns.
//
// Thread-safe. The release listener runs outside the lock.
#ifndef VERNIER_TRIAL_RUNNER_LOCAL_DEVICE_POOL_H_
#define VERNIER_TRIAL_RUNNER_LOCAL_DEVICE_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace vernier::trial_runner {

class DevicePool {
 public:
  // `devices`, in the order they are handed out (duplicates are dropped).
  explicit DevicePool(std::vector<std::string> devices);
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  const std::vector<std::string>& devices() const { return devices_; }

  // `count` (> 0) free devices for `requester`, taken from `allowed` (empty:
  // any device of the pool), or nullopt when it is not `requester`'s turn or
  // not enough are free; `requester` then waits in the queue.
  std::optional<std::vector<std::string>> TryAcquire(
      int64_t requester, int count, const std::vector<std::string>& allowed);

  // Gives devices back. Devices not held are ignored. Then runs the release
  // listener, if any.
  void Release(const std::vector<std::string>& devices);

  // Leaves the queue: `requester` no longer waits (its study has nothing to
  // start, or ended).
  void Withdraw(int64_t requester);

  // Called after every Release, on the releasing thread, so that waiting
  // requesters can try again. Replaces any earlier listener.
  void SetReleaseListener(std::function<void()> listener);

  int free_count() const;

 private:
  struct Waiter {
    int64_t requester = 0;
    int count = 0;
    std::vector<std::string> allowed;
  };

  // Up to `count` free devices from `allowed` (empty: any), in pool order.
  std::vector<std::string> FreeAmong(int count,
                                     const std::vector<std::string>& allowed)
      const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::string> devices_;

  mutable std::mutex mu_;
  std::set<std::string> held_ ABSL_GUARDED_BY(mu_);
  std::deque<Waiter> waiting_ ABSL_GUARDED_BY(mu_);  // first come first
  std::function<void()> on_release_ ABSL_GUARDED_BY(mu_);
};

// The GPUs that `nvidia_smi` lists, by index ("0", "1", ...), read from
// `nvidia-smi --query-gpu=index,uuid,name --format=csv,noheader`. Empty when
// the program is missing or lists none (a machine without NVIDIA GPUs);
// `error`, when given, then says why.
std::vector<std::string> DiscoverGpus(const std::string& nvidia_smi,
                                      std::string* error = nullptr);

// The CPU cores this process may run on (sched_getaffinity), as "0", "1", ...
std::vector<std::string> AvailableCpus();

}  // namespace vernier::trial_runner

#endif  // VERNIER_TRIAL_RUNNER_LOCAL_DEVICE_POOL_H_
