#include "server/trial_service.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/auth.h"
#include "server/call.h"
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

TrialServiceImpl::TrialServiceImpl(controller::StudyManager* manager)
    : manager_(manager) {}

grpc::ServerUnaryReactor* TrialServiceImpl::GetTrial(
    grpc::CallbackServerContext* context, const v1::GetTrialRequest* request,
    v1::GetTrialResponse* response) {
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
  FinishCall(reactor, "GetTrial", status);
  return reactor;
}

grpc::ServerUnaryReactor* TrialServiceImpl::ReportMeasurement(
    grpc::CallbackServerContext* context,
    const v1::ReportMeasurementRequest* request,
    v1::ReportMeasurementResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::string> token = TrialToken(*context);
  absl::Status status = token.status();
  if (status.ok()) status = CheckReportMeasurement(*request);
  if (!status.ok()) {
    FinishCall(reactor, "ReportMeasurement", status);
    return reactor;
  }
  // `response` and `reactor` live until the call finishes, which is here.
  manager_->ReportMeasurements(
      request->trial_id(), *token,
      {request->measurements().begin(), request->measurements().end()},
      [reactor, response](absl::StatusOr<bool> should_stop) {
        if (should_stop.ok()) response->set_should_stop(*should_stop);
        FinishCall(reactor, "ReportMeasurement", should_stop.status());
      });
  return reactor;
}

grpc::ServerUnaryReactor* TrialServiceImpl::FinishTrial(
    grpc::CallbackServerContext* context, const v1::FinishTrialRequest* request,
    v1::FinishTrialResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::string> token = TrialToken(*context);
  absl::Status status = token.status();
  if (status.ok()) status = CheckFinishTrial(*request);
  if (!status.ok()) {
    FinishCall(reactor, "FinishTrial", status);
    return reactor;
  }
  manager_->FinishTrial(request->trial_id(), *token,
                        MetricsMap(request->metrics()),
                        [reactor](absl::Status status) {
                          FinishCall(reactor, "FinishTrial", status);
                        });
  return reactor;
}

}  // namespace vernier::server
