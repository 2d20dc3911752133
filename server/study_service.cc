#include "server/study_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/auth.h"
#include "server/call.h"
#include "server/requests.h"

namespace vernier::server {

StudyServiceImpl::StudyServiceImpl(controller::StudyManager* manager,
                                   storage::Store* store,
                                   std::string admin_token)
    : manager_(manager), store_(store), admin_token_(std::move(admin_token)) {}

grpc::ServerUnaryReactor* StudyServiceImpl::CreateStudy(
    grpc::CallbackServerContext* context, const v1::CreateStudyRequest* request,
    v1::Study* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = CheckAdminToken(*context, admin_token_);
  if (status.ok()) {
    absl::StatusOr<v1::StudySpec> spec = StudySpecFromRequest(*request);
    if (spec.ok()) {
      absl::StatusOr<v1::Study> study = manager_->StartStudy(
          *spec, request->yaml(), request->resume_existing());
      if (study.ok()) {
        *response = *std::move(study);
      } else {
        status = study.status();
      }
    } else {
      status = spec.status();
    }
  }
  FinishCall(reactor, "CreateStudy", status);
  return reactor;
}

grpc::ServerUnaryReactor* StudyServiceImpl::GetStudy(
    grpc::CallbackServerContext* context, const v1::GetStudyRequest* request,
    v1::Study* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = CheckAdminToken(*context, admin_token_);
  if (status.ok()) status = CheckNameGiven("name", request->name());
  if (status.ok()) {
    absl::StatusOr<v1::Study> study = store_->FindStudy(request->name());
    if (study.ok()) {
      *response = *std::move(study);
    } else {
      status = study.status();
    }
  }
  FinishCall(reactor, "GetStudy", status);
  return reactor;
}

grpc::ServerUnaryReactor* StudyServiceImpl::ListStudies(
    grpc::CallbackServerContext* context,
    const v1::ListStudiesRequest* /*request*/,
    v1::ListStudiesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = CheckAdminToken(*context, admin_token_);
  if (status.ok()) {
    absl::StatusOr<std::vector<v1::Study>> studies = store_->ListStudies();
    if (studies.ok()) {
      for (v1::Study& study : *studies) {
        *response->add_studies() = std::move(study);
      }
    } else {
      status = studies.status();
    }
  }
  FinishCall(reactor, "ListStudies", status);
  return reactor;
}

grpc::ServerUnaryReactor* StudyServiceImpl::StopStudy(
    grpc::CallbackServerContext* context, const v1::StopStudyRequest* request,
    v1::Study* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = CheckAdminToken(*context, admin_token_);
  if (status.ok()) status = CheckNameGiven("name", request->name());
  if (status.ok()) {
    absl::StatusOr<v1::Study> study = manager_->StopStudy(request->name());
    if (study.ok()) {
      *response = *std::move(study);
    } else {
      status = study.status();
    }
  }
  FinishCall(reactor, "StopStudy", status);
  return reactor;
}

namespace {

// The study's trials by number, each with its measurements when asked.
absl::Status ReadTrials(storage::Store& store,
                        const v1::ListTrialsRequest& request,
                        v1::ListTrialsResponse& response) {
  absl::StatusOr<v1::Study> study = store.FindStudy(request.study());
  if (!study.ok()) return study.status();
  absl::StatusOr<std::vector<v1::Trial>> trials = store.ListTrials(study->id());
  if (!trials.ok()) return trials.status();
  for (v1::Trial& trial : *trials) {
    if (request.include_measurements()) {
      absl::StatusOr<std::vector<v1::Measurement>> measurements =
          store.ListMeasurements(trial.id());
      if (!measurements.ok()) return measurements.status();
      for (v1::Measurement& measurement : *measurements) {
        *trial.add_measurements() = std::move(measurement);
      }
    }
    *response.add_trials() = std::move(trial);
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* StudyServiceImpl::ListTrials(
    grpc::CallbackServerContext* context, const v1::ListTrialsRequest* request,
    v1::ListTrialsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = CheckAdminToken(*context, admin_token_);
  if (status.ok()) status = CheckNameGiven("study", request->study());
  if (status.ok()) {
    status = ReadTrials(*store_, *request, *response);
    if (!status.ok()) response->Clear();
  }
  FinishCall(reactor, "ListTrials", status);
  return reactor;
}

grpc::ServerUnaryReactor* StudyServiceImpl::SuggestTrials(
    grpc::CallbackServerContext* context,
    const v1::SuggestTrialsRequest* request,
    v1::SuggestTrialsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = CheckAdminToken(*context, admin_token_);
  if (status.ok()) status = CheckSuggestTrials(*request);
  if (!status.ok()) {
    FinishCall(reactor, "SuggestTrials", status);
    return reactor;
  }
  // `response` and `reactor` live until the call finishes, which is here.
  manager_->SuggestTrials(
      request->study(), request->count(), request->client_id(),
      [reactor, response](absl::StatusOr<std::vector<v1::Trial>> trials) {
        if (trials.ok()) {
          for (v1::Trial& trial : *trials) {
            *response->add_trials() = std::move(trial);
          }
        }
        FinishCall(reactor, "SuggestTrials", trials.status());
      });
  return reactor;
}

grpc::ServerUnaryReactor* StudyServiceImpl::CompleteTrial(
    grpc::CallbackServerContext* context,
    const v1::CompleteTrialRequest* request, v1::Trial* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = CheckAdminToken(*context, admin_token_);
  if (status.ok()) status = CheckCompleteTrial(*request);
  if (!status.ok()) {
    FinishCall(reactor, "CompleteTrial", status);
    return reactor;
  }
  manager_->CompleteTrial(
      request->study(), request->trial_id(), MetricsMap(request->metrics()),
      request->infeasible(), request->infeasible_reason(),
      [reactor, response](absl::StatusOr<v1::Trial> trial) {
        if (trial.ok()) *response = *std::move(trial);
        FinishCall(reactor, "CompleteTrial", trial.status());
      });
  return reactor;
}

}  // namespace vernier::server
