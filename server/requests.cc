#include "server/requests.h"

#include <filesystem>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "controller/study_yaml.h"

namespace vernier::server {

namespace {

absl::Status CheckTrialId(int64_t trial_id) {
  if (trial_id <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial_id: must be positive, got ", trial_id));
  }
  return absl::OkStatus();
}

// `field` names the map in an error (built only then: reports call this for
// every measurement).
absl::Status CheckMetricNames(
    absl::FunctionRef<std::string()> field,
    const google::protobuf::Map<std::string, double>& metrics) {
  for (const auto& [name, value] : metrics) {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field(), ": a metric name must not be empty"));
    }
    if (name.size() > controller::kMaxMetricNameLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          field(), ": a metric name may have at most ",
          controller::kMaxMetricNameLength, " characters, got ", name.size()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::StudySpec> StudySpecFromRequest(
    const v1::CreateStudyRequest& request) {
  switch (request.source_case()) {
    case v1::CreateStudyRequest::kSpec: {
      std::vector<controller::SpecError> errors =
          controller::ValidateStudySpec(request.spec());
      if (errors.empty()) return request.spec();
      for (controller::SpecError& error : errors) {
        error.path = error.path.empty() ? std::string("spec")
                                        : absl::StrCat("spec.", error.path);
      }
      return controller::SpecErrorsToStatus(errors, "");
    }
    case v1::CreateStudyRequest::kYaml: {
      if (!request.base_dir().empty() &&
          !std::filesystem::path(request.base_dir()).is_absolute()) {
        return absl::InvalidArgumentError(
            absl::StrCat("base_dir: must be an absolute path, got \"",
                         request.base_dir(), "\""));
      }
      controller::LoadedStudy loaded =
          controller::LoadStudyYaml(request.yaml(), request.base_dir());
      if (!loaded.errors.empty()) {
        return controller::SpecErrorsToStatus(loaded.errors, "");
      }
      return std::move(loaded.spec);
    }
    case v1::CreateStudyRequest::SOURCE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("source: give spec or yaml");
}

absl::Status CheckNameGiven(absl::string_view field, absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be empty"));
  }
  if (value.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be at most ", kMaxNameLength,
                     " characters, got ", value.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckSuggestTrials(const v1::SuggestTrialsRequest& request) {
  if (absl::Status s = CheckNameGiven("study", request.study()); !s.ok()) {
    return s;
  }
  if (request.count() < 1 || request.count() > kMaxSuggestCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("count: must be between 1 and ", kMaxSuggestCount,
                     ", got ", request.count()));
  }
  return CheckNameGiven("client_id", request.client_id());
}

absl::Status CheckCompleteTrial(const v1::CompleteTrialRequest& request) {
  if (absl::Status s = CheckNameGiven("study", request.study()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTrialId(request.trial_id()); !s.ok()) return s;
  if (request.infeasible_reason().size() > kMaxReasonLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("infeasible_reason: must be at most ", kMaxReasonLength,
                     " characters, got ", request.infeasible_reason().size()));
  }
  if (!request.infeasible() && request.metrics().empty()) {
    return absl::InvalidArgumentError(
        "metrics: must hold the objective unless infeasible");
  }
  return CheckMetricNames([] { return std::string("metrics"); },
                          request.metrics());
}

absl::Status CheckGetTrial(const v1::GetTrialRequest& request) {
  return CheckTrialId(request.trial_id());
}

absl::Status CheckReportMeasurement(
    const v1::ReportMeasurementRequest& request) {
  if (absl::Status s = CheckTrialId(request.trial_id()); !s.ok()) return s;
  if (request.measurements().empty()) {
    return absl::InvalidArgumentError("measurements: must hold at least one");
  }
  if (request.measurements_size() > kMaxMeasurementsPerReport) {
    return absl::InvalidArgumentError(
        absl::StrCat("measurements: at most ", kMaxMeasurementsPerReport,
                     " per call, got ", request.measurements_size()));
  }
  for (int i = 0; i < request.measurements_size(); ++i) {
    const v1::Measurement& measurement = request.measurements(i);
    // Built only for an error.
    auto path = [i] { return absl::StrCat("measurements[", i, "]"); };
    if (measurement.step() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ".step: must be at least 0, got ", measurement.step()));
    }
    if (measurement.metrics().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path(), ".metrics: must hold at least one metric"));
    }
    if (absl::Status s =
            CheckMetricNames([&] { return absl::StrCat(path(), ".metrics"); },
                             measurement.metrics());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFinishTrial(const v1::FinishTrialRequest& request) {
  if (absl::Status s = CheckTrialId(request.trial_id()); !s.ok()) return s;
  return CheckMetricNames([] { return std::string("metrics"); },
                          request.metrics());
}

std::map<std::string, double> MetricsMap(
    const google::protobuf::Map<std::string, double>& metrics) {
  return std::map<std::string, double>(metrics.begin(), metrics.end());
}

}  // namespace vernier::server
