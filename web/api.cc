#include "web/api.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "controller/study_summary.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "vernier/v1/service.pb.h"
#include "web/csv.h"
#include "web/query_params.h"
#include "web/study_cost.h"

namespace vernier::web {
namespace {

constexpr int kMaxStudyPageSize = 100;
// Trials a CSV export holds at most; a study is capped far below this.
constexpr int kMaxCsvTrials = 1'000'000;

int HttpCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

ApiResponse Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  ApiResponse response;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &response.body,
                                                  options);
  if (!status.ok()) {
    return ErrorResponse(absl::InternalError(
        absl::StrCat("cannot write JSON: ", status.ToString())));
  }
  return response;
}

// Whether two tokens are equal, in a time that does not depend on where they
// first differ (as server/auth.h's TokensEqual; web does not link gRPC).
bool SameToken(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

v1::TrialCounts CountsOf(int64_t study_id,
                         const std::vector<storage::TrialStateCount>& counts) {
  v1::TrialCounts result;
  for (const storage::TrialStateCount& count : counts) {
    if (count.study_id != study_id) continue;
    result.set_created(result.created() + count.count);
    switch (count.state) {
      case v1::Trial::PENDING:
        result.set_pending(count.count);
        break;
      case v1::Trial::RUNNING:
        result.set_running(count.count);
        break;
      case v1::Trial::SUCCEEDED:
        result.set_succeeded(count.count);
        break;
      case v1::Trial::FAILED:
        result.set_failed(count.count);
        break;
      case v1::Trial::STOPPED:
        result.set_stopped(count.count);
        break;
      case v1::Trial::INFEASIBLE:
        result.set_infeasible(count.count);
        break;
      default:
        break;
    }
  }
  return result;
}

// The overview of `study`: its counts (from `counts`, all studies) and its
// best trial (one indexed query; see controller::Summarize for "best").
absl::StatusOr<v1::StudyOverview> Overview(
    storage::Store& store, v1::Study study,
    const std::vector<storage::TrialStateCount>& counts) {
  v1::StudyOverview overview;
  *overview.mutable_counts() = CountsOf(study.id(), counts);
  if (overview.counts().succeeded() > 0) {
    absl::StatusOr<storage::TrialPage> best = store.QueryTrials(
        storage::TrialQuery{.study_id = study.id(),
                            .states = {v1::Trial::SUCCEEDED},
                            .order = storage::TrialQuery::Order::kObjective,
                            .descending = study.spec().objective().goal() ==
                                          v1::ObjectiveSpec::MAXIMIZE,
                            .limit = 1});
    if (!best.ok()) return best.status();
    if (!best->trials.empty() && best->trials.front().has_objective()) {
      *overview.mutable_best_trial() = std::move(best->trials.front());
    }
  }
  *overview.mutable_study() = std::move(study);
  return overview;
}

// Filters and sorts a study list as ListStudies' parameters say.
absl::Status SelectStudies(const QueryParams& params,
                           std::vector<v1::Study>& studies) {
  absl::StatusOr<std::optional<std::string>> states =
      SingleParam(params, "state");
  if (!states.ok()) return states.status();
  if (states->has_value() && !(*states)->empty()) {
    std::vector<v1::Study::State> wanted;
    for (absl::string_view name : absl::StrSplit(**states, ',')) {
      v1::Study::State state;
      if (!v1::Study::State_Parse(std::string(name), &state) ||
          state == v1::Study::STATE_UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat(
            "state: '", name,
            "' is not a study state (ACTIVE, DONE, FAILED, STOPPED)"));
      }
      wanted.push_back(state);
    }
    std::erase_if(studies, [&wanted](const v1::Study& study) {
      return std::find(wanted.begin(), wanted.end(), study.state()) ==
             wanted.end();
    });
  }
  absl::StatusOr<std::optional<std::string>> text = SingleParam(params, "q");
  if (!text.ok()) return text.status();
  if (text->has_value()) {
    std::erase_if(studies, [&text](const v1::Study& study) {
      return !absl::StrContains(study.name(), **text);
    });
  }
  absl::StatusOr<std::optional<std::string>> order =
      SingleParam(params, "order_by");
  if (!order.ok()) return order.status();
  if (!order->has_value()) return absl::OkStatus();
  std::vector<std::string> words =
      absl::StrSplit(**order, ' ', absl::SkipWhitespace());
  const bool descending = words.size() == 2 && words[1] == "desc";
  const std::string field = words.empty() ? "" : words[0];
  std::function<bool(const v1::Study&, const v1::Study&)> less;
  if (field == "id") {
    less = [](const v1::Study& a, const v1::Study& b) { return a.id() < b.id(); };
  } else if (field == "name") {
    less = [](const v1::Study& a, const v1::Study& b) {
      return a.name() < b.name();
    };
  } else if (field == "create_time") {
    less = [](const v1::Study& a, const v1::Study& b) {
      return std::make_pair(a.create_time().seconds(),
                            a.create_time().nanos()) <
             std::make_pair(b.create_time().seconds(),
                            b.create_time().nanos());
    };
  } else if (field == "state") {
    less = [](const v1::Study& a, const v1::Study& b) {
      return a.state() < b.state();
    };
  }
  if (!less || words.size() > 2 ||
      (words.size() == 2 && words[1] != "desc" && words[1] != "asc")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "order_by: '", **order,
        "' is not id, name, create_time or state, optionally with desc"));
  }
  std::stable_sort(studies.begin(), studies.end(),
                   [&](const v1::Study& a, const v1::Study& b) {
                     return descending ? less(b, a) : less(a, b);
                   });
  return absl::OkStatus();
}

double Seconds(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return static_cast<double>(time.seconds()) + time.nanos() * 1e-9;
}

}  // namespace

ApiResponse ErrorResponse(const absl::Status& status, int http_code) {
  if (http_code == 0) http_code = HttpCode(status.code());
  nlohmann::json body = {
      {"error",
       {{"code", http_code},
        {"status",
         absl::AsciiStrToUpper(absl::StatusCodeToString(status.code()))},
        {"message", std::string(status.message())}}}};
  ApiResponse response;
  response.status = http_code;
  // Messages may quote user input; dump escapes it for JSON, and the page
  // only ever puts it in text nodes.
  response.body =
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

ApiResponse Api::Config() const {
  ApiResponse response;
  response.body = nlohmann::json{{"adminTokenRequired", !admin_token_.empty()}}
                      .dump();
  return response;
}

ApiResponse Api::ListStudies(const QueryParams& params) const {
  absl::StatusOr<PageRequest> page =
      ParsePage(params, kMaxStudyPageSize, kMaxStudyPageSize);
  if (!page.ok()) return ErrorResponse(page.status());
  absl::StatusOr<std::vector<v1::Study>> studies = store_->ListStudies();
  if (!studies.ok()) return ErrorResponse(studies.status());
  if (absl::Status s = SelectStudies(params, *studies); !s.ok()) {
    return ErrorResponse(s);
  }
  absl::StatusOr<std::vector<storage::TrialStateCount>> counts =
      store_->CountTrials();
  if (!counts.ok()) return ErrorResponse(counts.status());
  v1::ListStudyOverviewsResponse response;
  const int64_t total = static_cast<int64_t>(studies->size());
  response.set_total_size(total);
  for (int64_t i = page->offset; i < total && i < page->offset + page->size;
       ++i) {
    absl::StatusOr<v1::StudyOverview> overview =
        Overview(*store_, std::move((*studies)[i]), *counts);
    if (!overview.ok()) return ErrorResponse(overview.status());
    *response.add_studies() = *std::move(overview);
  }
  response.set_next_page_token(NextPageToken(*page, total));
  return Json(response);
}

ApiResponse Api::GetStudy(absl::string_view name) const {
  absl::StatusOr<v1::Study> study = store_->FindStudy(name);
  if (!study.ok()) return ErrorResponse(study.status());
  absl::StatusOr<std::vector<storage::TrialStateCount>> counts =
      store_->CountTrials();
  if (!counts.ok()) return ErrorResponse(counts.status());
  absl::StatusOr<v1::StudyOverview> overview =
      Overview(*store_, *std::move(study), *counts);
  if (!overview.ok()) return ErrorResponse(overview.status());
  return Json(*overview);
}

ApiResponse Api::ListTrials(absl::string_view name,
                            const QueryParams& params) const {
  absl::StatusOr<v1::Study> study = store_->FindStudy(name);
  if (!study.ok()) return ErrorResponse(study.status());
  absl::StatusOr<storage::TrialQuery> query =
      ParseTrialQuery(*study, params, kDefaultPageSize, kMaxPageSize);
  if (!query.ok()) return ErrorResponse(query.status());
  absl::StatusOr<storage::TrialPage> page = store_->QueryTrials(*query);
  if (!page.ok()) return ErrorResponse(page.status());
  v1::ListTrialsResponse response;
  for (v1::Trial& trial : page->trials) {
    trial.clear_log_tail();  // the trial page shows it; a table does not
    *response.add_trials() = std::move(trial);
  }
  response.set_total_size(page->total);
  response.set_next_page_token(NextPageToken(
      PageRequest{.offset = query->offset, .size = query->limit}, page->total));
  return Json(response);
}

ApiResponse Api::TrialsCsv(absl::string_view name,
                           const QueryParams& params) const {
  absl::StatusOr<v1::Study> study = store_->FindStudy(name);
  if (!study.ok()) return ErrorResponse(study.status());
  // The filter and order of the table, every page at once.
  QueryParams unpaged = params;
  unpaged.erase("page_size");
  unpaged.erase("page_token");
  absl::StatusOr<storage::TrialQuery> query =
      ParseTrialQuery(*study, unpaged, kMaxCsvTrials, kMaxCsvTrials);
  if (!query.ok()) return ErrorResponse(query.status());
  absl::StatusOr<storage::TrialPage> page = store_->QueryTrials(*query);
  if (!page.ok()) return ErrorResponse(page.status());
  ApiResponse response;
  response.content_type = "text/csv; charset=utf-8";
  response.body = TrialsToCsv(study->spec(), page->trials);
  return response;
}

ApiResponse Api::TrialColumns(absl::string_view name) const {
  if (!data_version_) return ComputeTrialColumns(name);
  // Read the version first: a write after it makes the next call recompute.
  const int64_t version = data_version_();
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = columns_cache_.find(std::string(name));
    if (it != columns_cache_.end() && it->second.version == version) {
      return it->second.response;
    }
  }
  ApiResponse response = ComputeTrialColumns(name);
  if (response.status == 200) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    columns_cache_[std::string(name)] = CachedColumns{version, response};
  }
  return response;
}

ApiResponse Api::ComputeTrialColumns(absl::string_view name) const {
  absl::StatusOr<v1::Study> study = store_->FindStudy(name);
  if (!study.ok()) return ErrorResponse(study.status());
  absl::StatusOr<std::vector<v1::Trial>> trials =
      store_->ListTrials(study->id());
  if (!trials.ok()) return ErrorResponse(trials.status());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  v1::TrialColumns columns;
  std::vector<v1::ParameterColumn*> parameters;
  for (const v1::ParameterSpec& spec : study->spec().parameters()) {
    v1::ParameterColumn* column = columns.add_parameters();
    column->set_name(spec.name());
    parameters.push_back(column);
  }
  for (const v1::Trial& trial : *trials) {
    columns.add_trial_id(trial.id());
    columns.add_number(trial.number());
    columns.add_state(trial.state());
    columns.add_objective(trial.has_objective() ? trial.objective() : nan);
    columns.add_start_seconds(Seconds(trial.start_time()));
    columns.add_end_seconds(Seconds(trial.end_time()));
    columns.add_gpus(absl::StrJoin(trial.gpus(), ","));
    for (int i = 0; i < study->spec().parameters_size(); ++i) {
      const v1::ParameterSpec& spec = study->spec().parameters(i);
      auto value = trial.parameters().find(spec.name());
      if (spec.type() == v1::ParameterSpec::CATEGORICAL) {
        parameters[i]->add_categories(
            value == trial.parameters().end() ? ""
                                              : value->second.string_value());
      } else {
        parameters[i]->add_values(value == trial.parameters().end() ||
                                          !value->second.has_number_value()
                                      ? nan
                                      : value->second.number_value());
      }
    }
  }
  return Json(columns);
}

ApiResponse Api::Curves(absl::string_view name,
                        const QueryParams& params) const {
  absl::StatusOr<v1::Study> study = store_->FindStudy(name);
  if (!study.ok()) return ErrorResponse(study.status());
  QueryParams selection = params;
  selection.erase("metric");
  absl::StatusOr<storage::TrialQuery> query =
      ParseTrialQuery(*study, selection, kDefaultPageSize,
                      static_cast<int>(storage::Store::kMaxMetricTrials));
  if (!query.ok()) return ErrorResponse(query.status());
  absl::StatusOr<std::optional<std::string>> metric =
      SingleParam(params, "metric");
  if (!metric.ok()) return ErrorResponse(metric.status());
  v1::MetricCurves curves;
  curves.set_metric(metric->value_or(study->spec().objective().metric()));
  absl::StatusOr<storage::TrialPage> page = store_->QueryTrials(*query);
  if (!page.ok()) return ErrorResponse(page.status());
  std::vector<int64_t> ids;
  std::map<int64_t, v1::MetricCurves::Curve*> by_id;
  for (const v1::Trial& trial : page->trials) {
    ids.push_back(trial.id());
    v1::MetricCurves::Curve* curve = curves.add_curves();
    curve->set_trial_id(trial.id());
    curve->set_number(trial.number());
    curve->set_state(trial.state());
    by_id[trial.id()] = curve;
  }
  absl::StatusOr<std::vector<storage::MetricPoint>> points =
      store_->ListMetricValues(ids, curves.metric());
  if (!points.ok()) return ErrorResponse(points.status());
  for (const storage::MetricPoint& point : *points) {
    v1::MetricCurves::Curve* curve = by_id[point.trial_id];
    curve->add_steps(point.step);
    curve->add_values(point.value);
  }
  return Json(curves);
}

ApiResponse Api::StudyCost(absl::string_view name) const {
  absl::StatusOr<v1::Study> study = store_->FindStudy(name);
  if (!study.ok()) return ErrorResponse(study.status());
  std::vector<v1::Trial> trials;
  // An unpriced study costs nothing: its trials need not be read.
  if (controller::HourlyRate(study->spec()) > 0) {
    absl::StatusOr<std::vector<v1::Trial>> listed =
        store_->ListTrials(study->id());
    if (!listed.ok()) return ErrorResponse(listed.status());
    trials = *std::move(listed);
  }
  ApiResponse response;
  response.body = StudyCostJson(ComputeStudyCost(*study, trials, absl::Now()));
  return response;
}

ApiResponse Api::GetTrial(absl::string_view trial_id) const {
  absl::StatusOr<int64_t> id = ParseId(trial_id, "trial id");
  if (!id.ok()) return ErrorResponse(id.status());
  absl::StatusOr<v1::Trial> trial = store_->GetTrial(*id);
  if (!trial.ok()) return ErrorResponse(trial.status());
  absl::StatusOr<std::vector<v1::Measurement>> measurements =
      store_->ListMeasurements(*id);
  if (!measurements.ok()) return ErrorResponse(measurements.status());
  for (v1::Measurement& measurement : *measurements) {
    *trial->add_measurements() = std::move(measurement);
  }
  return Json(*trial);
}

ApiResponse Api::TrialLog(absl::string_view trial_id,
                          const QueryParams& params) const {
  absl::StatusOr<int64_t> id = ParseId(trial_id, "trial id");
  if (!id.ok()) return ErrorResponse(id.status());
  int64_t tail_bytes = -1;
  absl::StatusOr<std::optional<std::string>> tail =
      SingleParam(params, "tail_bytes");
  if (!tail.ok()) return ErrorResponse(tail.status());
  if (tail->has_value() &&
      (!absl::SimpleAtoi(**tail, &tail_bytes) || tail_bytes < 0)) {
    return ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
        "tail_bytes: must be a non-negative integer, not '", **tail, "'")));
  }
  absl::StatusOr<v1::Trial> trial = store_->GetTrial(*id);
  if (!trial.ok()) return ErrorResponse(trial.status());
  if (trial->log_path().empty()) {
    return ErrorResponse(absl::NotFoundError(
        absl::StrCat("trial ", *id, " has no log (it has not run)")));
  }
  std::ifstream file(trial->log_path(), std::ios::binary | std::ios::ate);
  if (!file) {
    return ErrorResponse(absl::NotFoundError(
        absl::StrCat("the log of trial ", *id, " is gone")));
  }
  const int64_t size = static_cast<int64_t>(file.tellg());
  const int64_t start =
      tail_bytes < 0 ? 0 : std::max<int64_t>(0, size - tail_bytes);
  file.seekg(start);
  ApiResponse response;
  response.content_type = "text/plain; charset=utf-8";
  response.body.resize(static_cast<size_t>(size - start));
  file.read(response.body.data(), size - start);
  response.body.resize(static_cast<size_t>(file.gcount()));
  return response;
}

absl::Status Api::CheckAction(absl::string_view authorization,
                              absl::string_view requested_by) const {
  if (requested_by != "vernier") {
    return absl::PermissionDeniedError(
        "X-Requested-By: actions need the header 'X-Requested-By: vernier'");
  }
  if (admin_token_.empty()) return absl::OkStatus();
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") &&
      !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError(
        "Authorization: missing admin token (Authorization: Bearer TOKEN)");
  }
  if (!SameToken(token, admin_token_)) {
    return absl::PermissionDeniedError("Authorization: wrong admin token");
  }
  return absl::OkStatus();
}

ApiResponse Api::StopStudy(absl::string_view name,
                           absl::string_view authorization,
                           absl::string_view requested_by) const {
  if (absl::Status s = CheckAction(authorization, requested_by); !s.ok()) {
    return ErrorResponse(s);
  }
  absl::StatusOr<v1::Study> study = manager_->StopStudy(name);
  if (!study.ok()) return ErrorResponse(study.status());
  return Json(*study);
}

ApiResponse Api::StopTrial(absl::string_view trial_id,
                           absl::string_view authorization,
                           absl::string_view requested_by) const {
  if (absl::Status s = CheckAction(authorization, requested_by); !s.ok()) {
    return ErrorResponse(s);
  }
  absl::StatusOr<int64_t> id = ParseId(trial_id, "trial id");
  if (!id.ok()) return ErrorResponse(id.status());
  std::promise<absl::Status> promise;
  std::future<absl::Status> outcome = promise.get_future();
  manager_->StopTrial(*id, [&promise](absl::Status status) {
    promise.set_value(std::move(status));
  });
  if (absl::Status s = outcome.get(); !s.ok()) return ErrorResponse(s);
  absl::StatusOr<v1::Trial> trial = store_->GetTrial(*id);
  if (!trial.ok()) return ErrorResponse(trial.status());
  return Json(*trial);
}

}  // namespace vernier::web
