// One TrialService.StreamMeasurements call (protos/vernier/v1/service.proto):
// training code's reports over one long-lived stream.
//
// Each request read is checked (CheckReportMeasurement) and handed to the
// StudyManager at once, as ReportMeasurement would be, and the next read
// starts without waiting for it to be durable: a client may have many
// requests in flight, up to kMaxUnstoredRequests, after which reading pauses
// (gRPC's flow control then holds the client back). As requests become
// durable, the contiguous prefix of them is acknowledged with one answer
// carrying the count; while an answer is being sent, later acknowledgements
// wait and go together in the next one, so a busy stream sends few answers.
//
// The first request that fails (the check, or the manager: wrong token,
// ended trial, storage refused) ends the stream with its status once every
// request handed to the manager has been answered, after a last answer
// acknowledging what was stored before it. A client that half-closes gets
// its final acknowledgement, then OK.
//
// Thread-safe: gRPC's reactions and the manager's `done` callbacks run on
// different threads; mu_ guards the stream's state. gRPC operations are
// started outside the lock.
#ifndef VERNIER_SERVER_MEASUREMENT_STREAM_H_
#define VERNIER_SERVER_MEASUREMENT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/study_manager.h"
#include "vernier/v1/service.pb.h"

namespace vernier::server {

class MeasurementStream final
    : public grpc::ServerBidiReactor<v1::ReportMeasurementRequest,
                                     v1::StreamMeasurementsResponse> {
 public:
  // Told of each request: its status code and the time from its arrival to
  // its answer (GrpcServerOptions::on_report_rpc, method
  // "StreamMeasurements").
  using RequestObserver =
      std::function<void(absl::StatusCode code, absl::Duration latency)>;

  // Requests handed to the manager and not yet answered, at most.
  static constexpr int kMaxUnstoredRequests = 64;

  // Starts reading, or finishes at once with `token`'s error (a missing
  // token). `manager` must outlive the call; `on_request` may be empty.
  // Deletes itself when the call is done.
  MeasurementStream(controller::StudyManager* manager,
                    absl::StatusOr<std::string> token,
                    RequestObserver on_request);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  // The manager's answer to the request at `index`, read at `read_at`.
  void OnStored(int64_t index, const absl::StatusOr<bool>& should_stop,
                absl::Time read_at);
  // Starts whatever the state now calls for, outside the lock: resuming
  // reads, an answer, or the end of the call.
  void Proceed();

  controller::StudyManager* const manager_;
  const std::string token_;
  const RequestObserver on_request_;
  // Read into by one read at a time; not guarded (reads are sequential).
  v1::ReportMeasurementRequest request_;
  v1::StreamMeasurementsResponse response_;

  std::mutex mu_;
  // Requests read so far; the index of the next one.
  int64_t read_ ABSL_GUARDED_BY(mu_) = 0;
  // Handed to the manager, not yet answered.
  int unstored_ ABSL_GUARDED_BY(mu_) = 0;
  // Requests 0 .. acknowledged_-1 are durable; `stored_` holds the indexes
  // past that which are too (waiting for an earlier one).
  int64_t acknowledged_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<int64_t> stored_ ABSL_GUARDED_BY(mu_);
  bool should_stop_ ABSL_GUARDED_BY(mu_) = false;
  // What the last answer sent said.
  int64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;      // a read is started
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;  // kMaxUnstoredRequests
  bool client_done_ ABSL_GUARDED_BY(mu_) = false;  // half-closed or gone
  // 0, or while an answer is being written: 2, less one when OnWriteDone
  // runs and one when the StartWrite call has returned.
  int write_holds_ ABSL_GUARDED_BY(mu_) = 0;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;  // the client is gone
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vernier::server

#endif  // VERNIER_SERVER_MEASUREMENT_STREAM_H_
