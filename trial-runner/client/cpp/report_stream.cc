#include "trial-runner/client/cpp/report_stream.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "trial-runner/client/cpp/client.h"

namespace vernier::client {
namespace {

constexpr char kRpc[] = "TrialService.StreamMeasurements";
// How long the destructor waits for the server to end a half-closed call
// before cancelling it.
constexpr auto kCloseTimeout = std::chrono::seconds(10);

}  // namespace

// One call. Its flags are guarded by the owner's mu_. A hold keeps OnDone
// (which deletes the call) back until reading has ended and no write is in
// flight, so the owner may start a write on it from outside a reaction.
class ReportStream::Call final
    : public grpc::ClientBidiReactor<v1::ReportMeasurementRequest,
                                     v1::StreamMeasurementsResponse> {
 public:
  Call(ReportStream* owner, v1::TrialService::Stub* stub,
       const std::string& token)
      : owner_(owner) {
    context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    stub->async()->StreamMeasurements(&context_, this);
  }

  void Start() {
    AddHold();
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (ok) {
      owner_->OnAcknowledged(this, response_.acknowledged(),
                             response_.should_stop());
      StartRead(&response_);
      return;
    }
    bool release = false;
    {
      std::lock_guard<std::mutex> lock(owner_->mu_);
      read_ended = true;
      release = write_holds == 0 && !hold_released;
      hold_released = hold_released || release;
    }
    if (release) RemoveHold();
  }

  // Starts the write TakeWriteLocked prepared, and the ones after it that
  // this thread is left to start (see ReleaseWrite).
  void Write() {
    do {
      StartWrite(&request);
    } while (ReleaseWrite(/*ok=*/true));
  }

  void OnWriteDone(bool ok) override {
    if (ReleaseWrite(ok)) Write();
  }

  void OnDone(const grpc::Status& status) override {
    ReportStream* owner = owner_;
    owner->OnCallDone(this, FromGrpcStatus(status, kRpc));
    // Told only once the call (its ClientContext) is gone: the owner's owner
    // destroys the channel next, which must outlive its calls.
    delete this;
    owner->OnCallDeleted();
  }

  // Guarded by owner_->mu_; `request` is written by one write at a time.
  v1::ReportMeasurementRequest request;
  // 0, or while a write is in flight: 2, less one when OnWriteDone runs and
  // one when its StartWrite call has returned. Releasing both under the
  // lock orders StartWrite's serialisation of `request` before the next
  // request is written, visibly to ThreadSanitizer (the completion's own
  // ordering goes through libgrpc, which it cannot see).
  int write_holds = 0;
  bool write_failed = false;
  bool writes_done_sent = false;
  bool read_ended = false;
  bool hold_released = false;

 private:
  ReportStream* const owner_;
  grpc::ClientContext context_;
  v1::StreamMeasurementsResponse response_;

  // Drops one of a write's two holds. At the last: prepares the next write
  // (true: the caller starts it), or half-closes when closing, or releases
  // the call's hold once reading has ended.
  bool ReleaseWrite(bool ok) {
    bool write = false;
    bool writes_done = false;
    bool release = false;
    {
      std::lock_guard<std::mutex> lock(owner_->mu_);
      if (!ok) write_failed = true;
      if (--write_holds > 0) return false;
      if (!write_failed && !owner_->closing_) {
        write = owner_->TakeWriteLocked(this);
      }
      if (!write && owner_->closing_ && !writes_done_sent && !read_ended) {
        writes_done_sent = true;
        writes_done = true;
      }
      release = !write && read_ended && !hold_released;
      hold_released = hold_released || release;
    }
    if (writes_done) StartWritesDone();
    if (release) RemoveHold();
    return write;
  }
};

ReportStream::ReportStream(v1::TrialService::Stub* stub, int64_t trial_id,
                           std::string token, StreamRetry retry)
    : stub_(stub),
      trial_id_(trial_id),
      token_(std::move(token)),
      retry_(retry),
      thread_([this] { Run(); }) {}

ReportStream::~ReportStream() {
  std::unique_lock<std::mutex> lock(mu_);
  closing_ = true;
  Call* call = call_;
  const bool writes_done = call != nullptr && call->write_holds == 0 &&
                           !call->writes_done_sent && !call->read_ended;
  if (writes_done) call->writes_done_sent = true;
  wake_.notify_all();
  lock.unlock();
  if (writes_done) call->StartWritesDone();
  lock.lock();
  if (!settled_.wait_for(lock, kCloseTimeout,
                         [this] { return call_ == nullptr; }) &&
      !call_->hold_released) {
    // The server has not ended the call. An extra hold keeps it alive (its
    // OnDone back) while it is cancelled outside the lock.
    Call* hung = call_;
    hung->AddHold();
    lock.unlock();
    hung->Cancel();
    hung->RemoveHold();
    lock.lock();
  }
  settled_.wait(lock, [this] { return live_calls_ == 0; });
  std::vector<Entry> left(std::make_move_iterator(queued_.begin()),
                          std::make_move_iterator(queued_.end()));
  queued_.clear();
  lock.unlock();
  thread_.join();
  for (Entry& entry : left) {
    if (entry.done) {
      entry.done(absl::CancelledError(
          absl::StrCat(kRpc, ": the trial's report stream was closed")));
    }
  }
}

absl::Status ReportStream::Add(v1::Measurement measurement, Done done) {
  Call* call = nullptr;
  bool write = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.ok()) return error_;
    queued_.push_back({std::move(measurement), std::move(done)});
    ++unanswered_;
    call = call_;
    if (call != nullptr) {
      write = TakeWriteLocked(call);
    } else {
      wake_.notify_all();  // the thread opens a call
    }
  }
  if (write) call->Write();
  return absl::OkStatus();
}

absl::Status ReportStream::Flush(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool settled =
      settled_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                        [this] { return !error_.ok() || unanswered_ == 0; });
  if (!error_.ok()) return error_;
  if (!settled) {
    return absl::DeadlineExceededError(
        absl::StrCat(kRpc, ": ", unanswered_, " reports not yet stored after ",
                     absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

void ReportStream::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [this] {
      return closing_ || (call_ == nullptr && !queued_.empty() && error_.ok());
    });
    if (closing_) return;
    // After a failed call, wait out the backoff (or the end).
    if (wake_.wait_until(lock, absl::ToChronoTime(reopen_at_),
                         [this] { return closing_; })) {
      return;
    }
    Call* call = new Call(this, stub_, token_);
    call_ = call;
    ++live_calls_;
    acknowledged_ = 0;
    const bool write = TakeWriteLocked(call);
    lock.unlock();
    call->Start();
    if (write) call->Write();
    lock.lock();
  }
}

bool ReportStream::TakeWriteLocked(Call* call) {
  if (call->write_holds > 0 || call->read_ended || call->writes_done_sent ||
      queued_.empty()) {
    return false;
  }
  // Copied, not moved: the originals stay in sent_ to be resent if this
  // call fails before they are acknowledged.
  call->request.Clear();
  call->request.set_trial_id(trial_id_);
  for (const Entry& entry : queued_) {
    *call->request.add_measurements() = entry.measurement;
  }
  sent_requests_.push_back(static_cast<int>(queued_.size()));
  for (Entry& entry : queued_) sent_.push_back(std::move(entry));
  queued_.clear();
  call->write_holds = 2;
  return true;
}

void ReportStream::OnAcknowledged(Call* call, int64_t acknowledged,
                                  bool should_stop) {
  std::vector<Done> stored;
  int count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (call != call_) return;
    failed_calls_ = 0;
    while (acknowledged_ < acknowledged && !sent_requests_.empty()) {
      for (int i = sent_requests_.front(); i > 0; --i) {
        if (sent_.front().done) stored.push_back(std::move(sent_.front().done));
        sent_.pop_front();
        ++count;
      }
      sent_requests_.pop_front();
      ++acknowledged_;
    }
  }
  for (Done& done : stored) done(should_stop);
  Answered(count);
}

void ReportStream::Answered(int count) {
  if (count == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  unanswered_ -= count;
  settled_.notify_all();
}

void ReportStream::OnCallDeleted() {
  std::lock_guard<std::mutex> lock(mu_);
  --live_calls_;
  settled_.notify_all();
}

void ReportStream::OnCallDone(Call* call, const absl::Status& status) {
  std::vector<Entry> failed;
  absl::Status failure;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (call_ != call) return;
    call_ = nullptr;
    sent_requests_.clear();
    // What this call did not get stored goes back to the front of the queue.
    while (!sent_.empty()) {
      queued_.push_front(std::move(sent_.back()));
      sent_.pop_back();
    }
    if (closing_) {
      failure = absl::CancelledError(
          absl::StrCat(kRpc, ": the trial's report stream was closed"));
    } else if (!queued_.empty()) {
      // A call that ended with reports unacknowledged: retried when the
      // error is transient, or when there was none (the server ended
      // reading without one, see service.proto).
      ++failed_calls_;
      if ((status.ok() || IsTransient(status.code())) &&
          failed_calls_ < retry_.max_attempts) {
        absl::Duration backoff = retry_.initial_backoff;
        for (int i = 1; i < failed_calls_; ++i) {
          backoff = std::min(backoff * 2, retry_.max_backoff);
        }
        reopen_at_ = absl::Now() + backoff;
      } else {
        failure = status.ok() ? absl::UnavailableError(absl::StrCat(
                                    kRpc, ": the server ended the stream with ",
                                    queued_.size(), " reports not stored"))
                              : status;
        error_ = failure;
      }
    }
    if (!failure.ok()) {
      failed.assign(std::make_move_iterator(queued_.begin()),
                    std::make_move_iterator(queued_.end()));
      queued_.clear();
    }
    settled_.notify_all();
    wake_.notify_all();
  }
  for (Entry& entry : failed) {
    if (entry.done) entry.done(failure);
  }
  Answered(static_cast<int>(failed.size()));
}

}  // namespace vernier::client
