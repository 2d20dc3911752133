// Api: the JSON API under /api/v1/, as plain functions of a request.
//
// Responses are the protobuf JSON mapping of vernier.v1 messages (the same
// messages the gRPC API carries; int64 fields are strings, enums are names,
// NaN is "NaN"). Errors are {"error": {"code": HTTP, "status": "NOT_FOUND",
// "message": "..."}}; a bad query parameter is 400 with a message that names
// it. Every list is paginated: page_size (1 to kMaxPageSize, default
// kDefaultPageSize) and page_token (the next_page_token of the previous page).
//
// Endpoints (the HTTP server maps paths to these methods):
//   GET  /api/v1/config                     {"adminTokenRequired": bool}
//   GET  /api/v1/studies                    ListStudyOverviewsResponse
//        ?state=ACTIVE,DONE  ?q=substring of the name
//        ?order_by=id|name|create_time|state [desc]
//   GET  /api/v1/studies/NAME               StudyOverview
//   GET  /api/v1/studies/NAME/trials        ListTrialsResponse
//        ?state=RUNNING,FAILED  ?range=PARAM:MIN:MAX (repeatable)
//        ?order_by=number|objective|state|params.PARAM [desc]
//   GET  /api/v1/studies/NAME/trials.csv    every matching trial as CSV
//   GET  /api/v1/studies/NAME/columns       TrialColumns (the plots' data)
//   GET  /api/v1/studies/NAME/curves        MetricCurves of the trials that
//        the same filter, order and page select; ?metric= (default: the
//        objective's)
//   GET  /api/v1/trials/ID                  Trial with its measurements
//   GET  /api/v1/trials/ID/log              the whole log, text/plain
//        ?tail_bytes=N for its last N bytes
//   POST /api/v1/studies/NAME:stop          Study (once it has stopped)
//   POST /api/v1/trials/ID:stop             Trial (the stop is under way)
// Any other method is 405 with an `Allow` header (POST on an action, GET
// and HEAD elsewhere); a path no endpoint has is 404.
// Actions (POST) need `Authorization: Bearer TOKEN` when the server has an
// admin token (401 without it, 403 for another), and the header
// `X-Requested-By: vernier` always, which no cross-site form can send.
//
// Thread-safe: every call reads the store, except that TrialColumns (every
// trial of a study, the largest answer) is kept per study until the data
// version changes; the cache is guarded by a mutex.
#ifndef VERNIER_WEB_API_H_
#define VERNIER_WEB_API_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controller/study_manager.h"
#include "storage/store.h"
#include "web/query_params.h"

namespace vernier::web {

struct ApiResponse {
  int status = 200;
  // With a charset, which also keeps cpp-httplib from compressing it on the
  // fly (see web/http_server.h).
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
};

// The error body for `status` (never OK), with its HTTP code; `http_code`,
// when not 0, replaces the one the status maps to (405 has no status code).
ApiResponse ErrorResponse(const absl::Status& status, int http_code = 0);

class Api {
 public:
  static constexpr int kDefaultPageSize = 50;
  static constexpr int kMaxPageSize = 1000;

  // `store` and `manager` must outlive the Api. An empty `admin_token`
  // leaves actions open to anyone who can reach the server.
  // `data_version` returns a number that changes whenever the store is
  // written (LiveUpdates::LastSequence); without one nothing is cached.
  Api(storage::Store* store, controller::StudyManager* manager,
      std::string admin_token, std::function<int64_t()> data_version = nullptr)
      : store_(store),
        manager_(manager),
        admin_token_(std::move(admin_token)),
        data_version_(std::move(data_version)) {}

  ApiResponse Config() const;
  ApiResponse ListStudies(const QueryParams& params) const;
  ApiResponse GetStudy(absl::string_view name) const;
  ApiResponse ListTrials(absl::string_view study,
                         const QueryParams& params) const;
  ApiResponse TrialsCsv(absl::string_view study,
                        const QueryParams& params) const;
  ApiResponse TrialColumns(absl::string_view study) const;
  ApiResponse Curves(absl::string_view study, const QueryParams& params) const;
  ApiResponse GetTrial(absl::string_view trial_id) const;
  ApiResponse TrialLog(absl::string_view trial_id,
                       const QueryParams& params) const;

  // `authorization` and `requested_by` are the request's headers (empty
  // when absent).
  ApiResponse StopStudy(absl::string_view name, absl::string_view authorization,
                        absl::string_view requested_by) const;
  ApiResponse StopTrial(absl::string_view trial_id,
                        absl::string_view authorization,
                        absl::string_view requested_by) const;

 private:
  absl::Status CheckAction(absl::string_view authorization,
                           absl::string_view requested_by) const;

  ApiResponse ComputeTrialColumns(absl::string_view study) const;

  storage::Store* const store_;
  controller::StudyManager* const manager_;
  const std::string admin_token_;
  const std::function<int64_t()> data_version_;

  struct CachedColumns {
    int64_t version = 0;
    ApiResponse response;
  };
  mutable std::mutex cache_mu_;
  mutable std::map<std::string, CachedColumns> columns_cache_
      ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace vernier::web

#endif  // VERNIER_WEB_API_H_
