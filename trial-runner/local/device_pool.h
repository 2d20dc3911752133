// DevicePool: devices that a trial holds exclusively while it runs (GPUs, CPU
// cores), shared by every study of a process and handed out in turn.
//
// Requests are served in the order their requesters (studies) came to wait:
// a device that a waiter ahead could use is kept for it, even while it waits
// for more, so a study that needs two GPUs is not starved by others that
// take one at a time. A requester that is refused stays queued until it is
// served or withdraws; once served it goes to the back of the queue the next
// time it asks, so studies take turns.
//
// Waiting requesters are not called back: a study controller asks again on
// its next tick (at most a second later) or event.
//
// Thread-safe.
#ifndef VERNIER_TRIAL_RUNNER_LOCAL_DEVICE_POOL_H_
#define VERNIER_TRIAL_RUNNER_LOCAL_DEVICE_POOL_H_

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace vernier::trial_runner {

class DevicePool {
 public:
  // `devices`: what a request without its own list draws from, in the
  // order they are handed out (duplicates are dropped).
  explicit DevicePool(std::vector<std::string> devices);
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  const std::vector<std::string>& devices() const { return devices_; }

  // `count` (> 0) free devices for `requester`, taken from `allowed` in its
  // order (empty: from devices()), or nullopt when it is not `requester`'s
  // turn or not enough are free; `requester` then waits in the queue. A
  // device is known by its name: the same name is one device whichever
  // list it came from.
  std::optional<std::vector<std::string>> TryAcquire(
      int64_t requester, int count, const std::vector<std::string>& allowed);

  // Gives devices back. Devices not held are ignored.
  void Release(const std::vector<std::string>& devices);

  // Leaves the queue: `requester` no longer waits (its study has nothing to
  // start, or ended).
  void Withdraw(int64_t requester);

  // How many devices are held now (for metrics).
  int held_count() const;

 private:
  struct Waiter {
    int64_t requester = 0;
    int count = 0;
    std::vector<std::string> allowed;
  };

  const std::vector<std::string> devices_;

  mutable std::mutex mu_;
  std::set<std::string> held_ ABSL_GUARDED_BY(mu_);
  std::deque<Waiter> waiting_ ABSL_GUARDED_BY(mu_);  // first come first
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
