#include "server/requests.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::server {
namespace {

using ::testing::HasSubstr;

TEST(StudySpecFromRequestTest, NoSourceIsInvalidArgument) {
  const absl::StatusOr<v1::StudySpec> spec = StudySpecFromRequest({});
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), "source: give spec or yaml");
}

TEST(StudySpecFromRequestTest, SpecErrorsNameTheFieldUnderSpecOnePerLine) {
  v1::CreateStudyRequest request;
  request.mutable_spec()->set_name("Bad Name");
  const absl::StatusOr<v1::StudySpec> spec = StudySpecFromRequest(request);
  ASSERT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(spec.status().message());
  EXPECT_THAT(message, HasSubstr("spec.name: "));
  EXPECT_THAT(message, HasSubstr("\nspec.objective"));
}

TEST(StudySpecFromRequestTest, YamlSyntaxErrorHasItsPosition) {
  v1::CreateStudyRequest request;
  request.set_yaml("name: [unclosed\n");
  request.set_base_dir("/tmp");
  const absl::StatusOr<v1::StudySpec> spec = StudySpecFromRequest(request);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr(":"));
}

TEST(CheckSuggestTrialsTest, CountMustBeWithinLimits) {
  v1::SuggestTrialsRequest request;
  request.set_study("s");
  request.set_client_id("c");
  request.set_count(1);
  EXPECT_TRUE(CheckSuggestTrials(request).ok());
  request.set_count(kMaxSuggestCount);
  EXPECT_TRUE(CheckSuggestTrials(request).ok());
  request.set_count(kMaxSuggestCount + 1);
  EXPECT_EQ(CheckSuggestTrials(request).message(),
            "count: must be between 1 and 1000, got 1001");
}

TEST(CheckReportMeasurementTest, KeepsNonFiniteValuesAndRefusesNegativeSteps) {
  v1::ReportMeasurementRequest request;
  request.set_trial_id(4);
  request.mutable_measurement()->set_step(0);
  (*request.mutable_measurement()->mutable_metrics())["loss"] = NAN;
  EXPECT_TRUE(CheckReportMeasurement(request).ok());
  request.mutable_measurement()->set_step(-3);
  EXPECT_EQ(CheckReportMeasurement(request).message(),
            "measurement.step: must be at least 0, got -3");
  request.set_trial_id(0);
  EXPECT_THAT(CheckReportMeasurement(request).message(), HasSubstr("trial_id"));
}

TEST(CheckFinishTrialTest, MetricNamesMustNotBeEmpty) {
  v1::FinishTrialRequest request;
  request.set_trial_id(1);
  EXPECT_TRUE(CheckFinishTrial(request).ok());
  (*request.mutable_metrics())[""] = 1.0;
  EXPECT_EQ(CheckFinishTrial(request).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vernier::server
