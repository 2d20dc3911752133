// TrialService of vernier.v1 over gRPC's callback API: what training code
// calls, with its trial's token.
//
// The handlers translate only: they check the request (server/requests.h),
// call the StudyManager, which checks the token, and map the answer
// (server/status.h). Reports finish from the manager's `done` callback, once
// durable; GetTrial blocks on the manager's read only.
//
// StreamMeasurements reports the same way over a stream
// (server/measurement_stream.h).
//
// Thread-safe: gRPC calls the handlers from its own threads, concurrently;
// the service holds nothing mutable.
#ifndef VERNIER_SERVER_TRIAL_SERVICE_H_
#define VERNIER_SERVER_TRIAL_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "controller/study_manager.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::server {

// Each call must carry its trial's token as `authorization: Bearer TOKEN`
// (PERMISSION_DENIED "missing trial token" otherwise); the manager checks it.
class TrialServiceImpl final : public v1::TrialService::CallbackService {
 public:
  // Told of each finished call; see GrpcServerOptions::on_report_rpc.
  using CallObserver = std::function<void(
      absl::string_view method, absl::StatusCode code, absl::Duration latency)>;

  // `manager` must outlive the service. `on_call` may be empty.
  explicit TrialServiceImpl(controller::StudyManager* manager,
                            CallObserver on_call = nullptr);
  TrialServiceImpl(const TrialServiceImpl&) = delete;
  TrialServiceImpl& operator=(const TrialServiceImpl&) = delete;

  grpc::ServerUnaryReactor* GetTrial(grpc::CallbackServerContext* context,
                                     const v1::GetTrialRequest* request,
                                     v1::GetTrialResponse* response) override;
  grpc::ServerUnaryReactor* ReportMeasurement(
      grpc::CallbackServerContext* context,
      const v1::ReportMeasurementRequest* request,
      v1::ReportMeasurementResponse* response) override;
  // server/measurement_stream.h.
  grpc::ServerBidiReactor<v1::ReportMeasurementRequest,
                          v1::StreamMeasurementsResponse>*
  StreamMeasurements(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* FinishTrial(
      grpc::CallbackServerContext* context,
      const v1::FinishTrialRequest* request,
      v1::FinishTrialResponse* response) override;

 private:
  // FinishCall, then tells on_call_ how the call went since `start`.
  void Finish(grpc::ServerUnaryReactor* reactor, absl::string_view method,
              const absl::Status& status, absl::Time start) const;

  controller::StudyManager* const manager_;
  const CallObserver on_call_;
};

}  // namespace vernier::server

#endif  // VERNIER_SERVER_TRIAL_SERVICE_H_
