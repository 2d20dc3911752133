#include "server/trial_service.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/auth.h"
#include "server/call.h"
#include "server/measurement_stream.h"
#include "server/requests.h"

namespace vernier::server {

namespace {

// The trial token the call carries; PERMISSION_DENIED when it carries none.
absl::StatusOr<std::string> TrialToken(
    const grpc::CallbackServerContext& context) {
  std::string token = BearerToken(context);
  if (token.empty()) return absl::PermissionDeniedError("missing trial token");
  return token;
}

}  // namespace

TrialServiceImpl::TrialServiceImpl(controller::StudyManager* manager,
                                   CallObserver on_call)
    : manager_(manager), on_call_(std::move(on_call)) {}

void TrialServiceImpl::Finish(grpc::ServerUnaryReactor* reactor,
                              absl::string_view method,
                              const absl::Status& status,
                              absl::Time start) const {
  if (on_call_) on_call_(method, status.code(), absl::Now() - start);
  FinishCall(reactor, method, status);
}

grpc::ServerUnaryReactor* TrialServiceImpl::GetTrial(
    grpc::CallbackServerContext* context, const v1::GetTrialRequest* request,
    v1::GetTrialResponse* response) {
  const absl::Time start = absl::Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::string> token = TrialToken(*context);
  absl::Status status = token.status();
  if (status.ok()) status = CheckGetTrial(*request);
  if (status.ok()) {
    absl::StatusOr<controller::WorkerTrial> trial =
        manager_->GetTrialForWorker(request->trial_id(), *token);
    if (trial.ok()) {
      *response->mutable_trial() = std::move(trial->trial);
      for (v1::ParameterSpec& parameter : trial->parameters) {
        *response->add_parameters() = std::move(parameter);
      }
    } else {
      status = trial.status();
    }
  }
  Finish(reactor, "GetTrial", status, start);
  return reactor;
}

grpc::ServerUnaryReactor* TrialServiceImpl::ReportMeasurement(
    grpc::CallbackServerContext* context,
    const v1::ReportMeasurementRequest* request,
    v1::ReportMeasurementResponse* response) {
  const absl::Time start = absl::Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::string> token = TrialToken(*context);
  absl::Status status = token.status();
  if (status.ok()) status = CheckReportMeasurement(*request);
  if (!status.ok()) {
    Finish(reactor, "ReportMeasurement", status, start);
    return reactor;
  }
  // `response` and `reactor` live until the call finishes, which is here.
  manager_->ReportMeasurements(
      request->trial_id(), *token,
      {request->measurements().begin(), request->measurements().end()},
      [this, reactor, response, start](absl::StatusOr<bool> should_stop) {
        if (should_stop.ok()) response->set_should_stop(*should_stop);
        Finish(reactor, "ReportMeasurement", should_stop.status(), start);
      });
  return reactor;
}

grpc::ServerBidiReactor<v1::ReportMeasurementRequest,
                        v1::StreamMeasurementsResponse>*
TrialServiceImpl::StreamMeasurements(grpc::CallbackServerContext* context) {
  MeasurementStream::RequestObserver on_request;
  if (on_call_) {
    on_request = [this](absl::StatusCode code, absl::Duration latency) {
      on_call_("StreamMeasurements", code, latency);
    };
  }
  return new MeasurementStream(manager_, TrialToken(*context),
                               std::move(on_request));
}

grpc::ServerUnaryReactor* TrialServiceImpl::FinishTrial(
    grpc::CallbackServerContext* context, const v1::FinishTrialRequest* request,
    v1::FinishTrialResponse* /*response*/) {
  const absl::Time start = absl::Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::string> token = TrialToken(*context);
  absl::Status status = token.status();
  if (status.ok()) status = CheckFinishTrial(*request);
  if (!status.ok()) {
    Finish(reactor, "FinishTrial", status, start);
    return reactor;
  }
  manager_->FinishTrial(request->trial_id(), *token,
                        MetricsMap(request->metrics()),
                        [this, reactor, start](absl::Status status) {
                          Finish(reactor, "FinishTrial", status, start);
                        });
  return reactor;
}

}  // namespace vernier::server
