// StudyService of vernier.v1 over gRPC's callback API.
//
// The handlers translate only: they check the request (server/requests.h),
// call the StudyManager for writes and ask/tell, or the Store for reads, and
// map the answer (server/status.h). Ask/tell calls finish from the manager's
// `done` callback; no handler blocks except on a Store read or on the
// manager's own durable write (StartStudy, StopStudy).
//
// Thread-safe: gRPC calls the handlers from its own threads, concurrently;
// the services hold nothing mutable.
#ifndef VERNIER_SERVER_STUDY_SERVICE_H_
#define VERNIER_SERVER_STUDY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "controller/study_manager.h"
#include "storage/store.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::server {

// Every call must carry `authorization: Bearer ADMIN_TOKEN` when
// `admin_token` is not empty (PERMISSION_DENIED otherwise).
class StudyServiceImpl final : public v1::StudyService::CallbackService {
 public:
  // `manager` and `store` must outlive the service.
  StudyServiceImpl(controller::StudyManager* manager, storage::Store* store,
                   std::string admin_token);
  StudyServiceImpl(const StudyServiceImpl&) = delete;
  StudyServiceImpl& operator=(const StudyServiceImpl&) = delete;

  grpc::ServerUnaryReactor* CreateStudy(grpc::CallbackServerContext* context,
                                        const v1::CreateStudyRequest* request,
                                        v1::Study* response) override;
  grpc::ServerUnaryReactor* GetStudy(grpc::CallbackServerContext* context,
                                     const v1::GetStudyRequest* request,
                                     v1::Study* response) override;
  grpc::ServerUnaryReactor* ListStudies(
      grpc::CallbackServerContext* context,
      const v1::ListStudiesRequest* request,
      v1::ListStudiesResponse* response) override;
  grpc::ServerUnaryReactor* StopStudy(grpc::CallbackServerContext* context,
                                      const v1::StopStudyRequest* request,
                                      v1::Study* response) override;
  grpc::ServerUnaryReactor* ListTrials(
      grpc::CallbackServerContext* context,
      const v1::ListTrialsRequest* request,
      v1::ListTrialsResponse* response) override;
  grpc::ServerUnaryReactor* SuggestTrials(
      grpc::CallbackServerContext* context,
      const v1::SuggestTrialsRequest* request,
      v1::SuggestTrialsResponse* response) override;
  grpc::ServerUnaryReactor* CompleteTrial(
      grpc::CallbackServerContext* context,
      const v1::CompleteTrialRequest* request, v1::Trial* response) override;

 private:
  controller::StudyManager* const manager_;
  storage::Store* const store_;
  const std::string admin_token_;
};

}  // namespace vernier::server

#endif  // VERNIER_SERVER_STUDY_SERVICE_H_
