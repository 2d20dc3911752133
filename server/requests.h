// Checks of incoming requests, kept apart from the RPC classes so that they
// read (and are tested) as plain functions. Each returns INVALID_ARGUMENT
// naming the field as the proto does ("count: ...", "measurement.step: ...")
// or OK; none looks anything up.
#ifndef VERNIER_SERVER_REQUESTS_H_
#define VERNIER_SERVER_REQUESTS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vernier/v1/service.pb.h"
#include "vernier/v1/study.pb.h"

namespace vernier::server {

// The most trials one SuggestTrials call may ask for.
inline constexpr int kMaxSuggestCount = 1000;

// The valid spec a CreateStudy request describes: `spec` checked with
// controller::ValidateStudySpec (paths prefixed "spec."), or `yaml` read with
// controller::LoadStudyYaml against `base_dir` (positions "LINE:COLUMN:").
// Every problem is in the one INVALID_ARGUMENT, one per line. `base_dir`,
// when given, must be absolute.
absl::StatusOr<v1::StudySpec> StudySpecFromRequest(
    const v1::CreateStudyRequest& request);

// The longest name (study, client id) a request may carry; error messages
// quote names, and a message must fit in gRPC's metadata.
inline constexpr size_t kMaxNameLength = 256;

// `field` names a study (or its name) or a client: not empty, at most
// kMaxNameLength bytes.
absl::Status CheckNameGiven(absl::string_view field, absl::string_view value);

absl::Status CheckSuggestTrials(const v1::SuggestTrialsRequest& request);
// The longest infeasible_reason a CompleteTrial call may carry.
inline constexpr size_t kMaxReasonLength = 4096;

absl::Status CheckCompleteTrial(const v1::CompleteTrialRequest& request);
absl::Status CheckGetTrial(const v1::GetTrialRequest& request);
// At most this many measurements in one ReportMeasurement call.
inline constexpr int kMaxMeasurementsPerReport = 1000;

// 1 to kMaxMeasurementsPerReport measurements, each with a step >= 0 and at
// least one metric, each named with at most
// controller::kMaxMetricNameLength characters; any value, including NaN and
// infinities, is kept.
absl::Status CheckReportMeasurement(
    const v1::ReportMeasurementRequest& request);
absl::Status CheckFinishTrial(const v1::FinishTrialRequest& request);

// A proto map of metrics as the StudyManager takes it.
std::map<std::string, double> MetricsMap(
    const google::protobuf::Map<std::string, double>& metrics);

}  // namespace vernier::server

#endif  // VERNIER_SERVER_REQUESTS_H_
