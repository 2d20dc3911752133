// What Trial::ReportAsync sends through: one TrialService.StreamMeasurements
// call at a time, reopened after a transient failure.
//
// Measurements are queued by Add and sent in order; while a write is in
// flight, later measurements wait and go together in the next request, so a
// client reporting faster than a round trip sends few, larger requests. The
// server acknowledges requests cumulatively once durable; each measurement's
// `done` is then called with the answer's should_stop.
//
// When a call ends with UNAVAILABLE or DEADLINE_EXCEEDED (or ends with
// measurements unacknowledged for any other reason the server gives no error
// for), the unacknowledged measurements go back to the front of the queue and
// a new call is opened after a backoff (TrialOptions: initial_backoff doubling
// to max_backoff), up to max_attempts failed calls in a row. The server keeps
// one value per (trial, step, metric), so resending is safe. Any other error,
// or running out of attempts, is permanent: every queued measurement's `done`
// gets it, and so does every later Add.
//
// Thread-safe. A background thread opens the calls (and waits out backoffs);
// gRPC's threads run the reactions and call `done`, which must not block for
// long. The destructor half-closes the current call and waits for it to end:
// call Flush first to know that everything was stored.
#ifndef VERNIER_TRIAL_RUNNER_CLIENT_CPP_REPORT_STREAM_H_
#define VERNIER_TRIAL_RUNNER_CLIENT_CPP_REPORT_STREAM_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::client {

struct StreamRetry {
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(3);
};

class ReportStream {
 public:
  using Done = std::function<void(absl::StatusOr<bool> should_stop)>;

  // `stub` must outlive this object.
  ReportStream(v1::TrialService::Stub* stub, int64_t trial_id,
               std::string token, StreamRetry retry);
  ~ReportStream();
  ReportStream(const ReportStream&) = delete;
  ReportStream& operator=(const ReportStream&) = delete;

  // Queues `measurement`; `done` (may be empty) is called once, when it is
  // stored or cannot be. The permanent error, if one has happened (then
  // `done` is not called).
  absl::Status Add(v1::Measurement measurement, Done done);

  // Waits until every measurement added so far is stored and its `done` has
  // returned; the permanent error if one happened, DEADLINE_EXCEEDED after
  // `timeout`.
  absl::Status Flush(absl::Duration timeout);

 private:
  class Call;
  struct Entry {
    v1::Measurement measurement;
    Done done;
  };

  // The background thread: opens a call whenever there is something to send
  // and none is open (after the backoff, if the last one failed).
  void Run();
  // The current call's reactions, forwarded.
  void OnAcknowledged(Call* call, int64_t acknowledged, bool should_stop);
  void OnCallDone(Call* call, const absl::Status& status);
  // After OnCallDone, once the call is deleted.
  void OnCallDeleted();
  // `count` entries' `done` have been called.
  void Answered(int count);
  // Moves the queue into the call's request if it is not writing; true when
  // the caller must start the write (Call::Write, outside the lock).
  bool TakeWriteLocked(Call* call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  v1::TrialService::Stub* const stub_;
  const int64_t trial_id_;
  const std::string token_;
  const StreamRetry retry_;

  std::mutex mu_;
  // The thread waits on wake_ (a call to open, or the end); Flush and the
  // destructor on settled_ (answers, errors, calls ended). Apart, so that
  // acknowledgements do not wake the thread.
  std::condition_variable wake_;
  std::condition_variable settled_;
  // Not yet sent on the current call, in order.
  std::deque<Entry> queued_ ABSL_GUARDED_BY(mu_);
  // Sent on the current call and not yet acknowledged, in order, and how
  // many measurements each of its requests held.
  std::deque<Entry> sent_ ABSL_GUARDED_BY(mu_);
  std::deque<int> sent_requests_ ABSL_GUARDED_BY(mu_);
  // Added and not yet answered (their `done` not yet returned).
  int64_t unanswered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t acknowledged_ ABSL_GUARDED_BY(mu_) = 0;  // requests of this call
  Call* call_ ABSL_GUARDED_BY(mu_) = nullptr;      // owned by itself
  int live_calls_ ABSL_GUARDED_BY(mu_) = 0;        // not yet deleted
  int failed_calls_ ABSL_GUARDED_BY(mu_) = 0;      // in a row
  absl::Time reopen_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status error_ ABSL_GUARDED_BY(mu_);  // permanent
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace vernier::client

#endif  // VERNIER_TRIAL_RUNNER_CLIENT_CPP_REPORT_STREAM_H_
