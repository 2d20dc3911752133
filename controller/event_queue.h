// EventQueue: the inbox of an event loop. Any thread posts; one thread pops.
#ifndef VERNIER_CONTROLLER_EVENT_QUEUE_H_
#define VERNIER_CONTROLLER_EVENT_QUEUE_H_

#include <deque>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vernier::controller {

template <typename Event>
class EventQueue {
 public:
  // Thread-safe; never blocks for long.
  void Post(Event event) {
    absl::MutexLock lock(&mutex_);
    events_.push_back(std::move(event));
  }

  // The oldest event, waiting up to `timeout` for one; nullopt on timeout.
  std::optional<Event> Pop(absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mutex_) {
      return !events_.empty();
    };
    mutex_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (events_.empty()) return std::nullopt;
    Event event = std::move(events_.front());
    events_.pop_front();
    return event;
  }

 private:
  absl::Mutex mutex_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_EVENT_QUEUE_H_
