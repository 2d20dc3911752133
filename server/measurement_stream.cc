#include "server/measurement_stream.h"

#include <utility>
#include <vector>

#include "server/call.h"
#include "server/requests.h"

namespace vernier::server {

MeasurementStream::MeasurementStream(controller::StudyManager* manager,
                                     absl::StatusOr<std::string> token,
                                     RequestObserver on_request)
    : manager_(manager),
      token_(token.ok() ? *std::move(token) : std::string()),
      on_request_(std::move(on_request)) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!token.ok()) {
      failure_ = token.status();
    } else {
      reading_ = true;
    }
  }
  if (token.ok()) {
    StartRead(&request_);
  } else {
    Proceed();
  }
}

void MeasurementStream::OnReadDone(bool ok) {
  const absl::Time read_at = absl::Now();
  const absl::Status status =
      ok ? CheckReportMeasurement(request_) : absl::OkStatus();
  // Taken out of request_ before the lock: once the lock is released another
  // thread may start the next read into it.
  std::vector<v1::Measurement> measurements;
  int64_t trial_id = 0;
  if (ok && status.ok()) {
    measurements.assign(
        std::make_move_iterator(request_.mutable_measurements()->begin()),
        std::make_move_iterator(request_.mutable_measurements()->end()));
    trial_id = request_.trial_id();
  }
  request_.Clear();
  bool accepted = false;
  bool read_more = false;
  int64_t index = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = false;
    if (!ok) {
      client_done_ = true;
    } else if (!failure_.ok()) {
      // An earlier request failed and the stream is ending: dropped.
    } else if (!status.ok()) {
      failure_ = status;
    } else {
      accepted = true;
      index = read_++;
      ++unstored_;
      read_more = unstored_ < kMaxUnstoredRequests;
      read_paused_ = !read_more;
      reading_ = read_more;
    }
  }
  if (!accepted) {
    if (ok && !status.ok() && on_request_) {
      on_request_(status.code(), absl::Now() - read_at);
    }
    Proceed();
    return;
  }
  if (read_more) StartRead(&request_);
  manager_->ReportMeasurements(
      trial_id, token_, std::move(measurements),
      [this, index, read_at](absl::StatusOr<bool> should_stop) {
        OnStored(index, should_stop, read_at);
      });
}

void MeasurementStream::OnStored(int64_t index,
                                 const absl::StatusOr<bool>& should_stop,
                                 absl::Time read_at) {
  if (on_request_)
    on_request_(should_stop.status().code(), absl::Now() - read_at);
  {
    std::lock_guard<std::mutex> lock(mu_);
    --unstored_;
    if (!should_stop.ok()) {
      if (failure_.ok()) failure_ = should_stop.status();
    } else {
      stored_.insert(index);
      while (!stored_.empty() && *stored_.begin() == acknowledged_) {
        stored_.erase(stored_.begin());
        ++acknowledged_;
        // Answers say the latest: a stop is not taken back by later reports.
        should_stop_ = should_stop_ || *should_stop;
      }
    }
  }
  Proceed();
}

void MeasurementStream::OnWriteDone(bool ok) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --write_holds_;
    if (!ok) write_failed_ = true;
  }
  Proceed();
}

void MeasurementStream::Proceed() {
  while (true) {
    bool start_read = false;
    bool start_write = false;
    bool finish = false;
    absl::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      const bool failed = !failure_.ok() || write_failed_;
      if (read_paused_ && !failed && unstored_ < kMaxUnstoredRequests) {
        read_paused_ = false;
        reading_ = true;
        start_read = true;
      }
      if (write_holds_ == 0 && !write_failed_ && acknowledged_ > sent_) {
        response_.set_acknowledged(acknowledged_);
        response_.set_should_stop(should_stop_);
        sent_ = acknowledged_;
        // Released by OnWriteDone and below, once StartWrite has returned.
        write_holds_ = 2;
        start_write = true;
      } else if (write_holds_ == 0 && unstored_ == 0 &&
                 (failed || (client_done_ && !reading_))) {
        // A read may still be outstanding after a failure; finishing ends it.
        finished_ = true;
        finish = true;
        status = failure_;
      }
    }
    if (start_read) StartRead(&request_);
    if (finish) Finish(ToLoggedGrpcStatus("StreamMeasurements", status));
    if (!start_write) return;
    StartWrite(&response_);
    // StartWrite has read response_ (serialised it) by now. Saying so under
    // mu_ orders that read before the next answer's writes in a way
    // ThreadSanitizer sees (OnWriteDone's ordering goes through libgrpc).
    std::lock_guard<std::mutex> lock(mu_);
    if (--write_holds_ > 0) return;  // OnWriteDone still to come
    // OnWriteDone came first and left the next step to this thread: loop.
  }
}

void MeasurementStream::OnDone() { delete this; }

}  // namespace vernier::server
