// LiveUpdates: the changes the dashboard's server-sent events carry.
//
// It listens to the process's store (see storage/observed_store.h) and keeps
// the last kCapacity changes, each with a sequence number, as small JSON
// events: a study changed, a trial changed state, a trial got measurements.
// SSE streams wait for events past the last sequence number they sent; a
// viewer then re-reads what it shows through the JSON API, so events stay
// tiny and the database is read once per viewer per burst, not per change.
//
// It also knows, per trial, the last state written, so it can tell the
// metrics when a trial starts and finishes (see web/metrics.h).
//
// Thread-safe: the listener methods run on writer threads; Wait runs on the
// HTTP server's threads.
#ifndef VERNIER_WEB_LIVE_UPDATES_H_
#define VERNIER_WEB_LIVE_UPDATES_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "storage/observed_store.h"

namespace vernier::web {

struct LiveEvent {
  int64_t sequence = 0;  // 1, 2, 3... in the order of the writes
  int64_t study_id = 0;
  std::string json;  // {"kind": "study"|"trial"|"measurements", ...}
};

class LiveUpdates final : public storage::StoreListener {
 public:
  static constexpr size_t kCapacity = 4096;

  // Called when a trial enters RUNNING (`started`) or a final state; on the
  // writer's thread, outside LiveUpdates' lock.
  struct TrialTransitions {
    std::function<void()> started;
    std::function<void(v1::Trial::State final_state)> finished;
  };
  explicit LiveUpdates(TrialTransitions transitions = {})
      : transitions_(std::move(transitions)) {}

  void OnStudyWritten(const v1::Study& study) override;
  void OnTrialWritten(const v1::Trial& trial) override;
  void OnMeasurementsWritten(
      int64_t trial_id,
      const std::vector<v1::Measurement>& measurements) override;

  // The sequence number of the newest event (0 before any).
  int64_t LastSequence() const;

  struct Batch {
    std::vector<LiveEvent> events;
    int64_t last_sequence = 0;  // what the caller passes as `after` next
    // Events after `after` were already dropped from the buffer: the caller
    // should re-read everything it shows.
    bool lost = false;
  };
  // Blocks until an event newer than `after` exists, Close() is called, or
  // `timeout` passes. Returns the events after `after`, of `study_id` only
  // unless it is 0.
  Batch Wait(int64_t after, int64_t study_id, absl::Duration timeout);

  // Wakes every waiter for good: Wait returns at once from now on.
  void Close();
  bool closed() const;

 private:
  void Append(int64_t study_id, std::string json)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TrialTransitions transitions_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<LiveEvent> events_ ABSL_GUARDED_BY(mu_);
  int64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // Every trial written in this process: its study and last state.
  struct TrialState {
    int64_t study_id = 0;
    v1::Trial::State state = v1::Trial::STATE_UNSPECIFIED;
  };
  std::map<int64_t, TrialState> trials_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vernier::web

#endif  // VERNIER_WEB_LIVE_UPDATES_H_
