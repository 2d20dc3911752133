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

TEST(CheckNameGivenTest, NamesHaveALengthLimit) {
  EXPECT_TRUE(CheckNameGiven("name", std::string(kMaxNameLength, 'a')).ok());
  const absl::Status status =
      CheckNameGiven("name", std::string(kMaxNameLength + 1, 'a'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "name: must be at most 256 characters, got 257");
}

TEST(CheckReportMeasurementTest, LongMetricNamesAreRefused) {
  v1::ReportMeasurementRequest request;
  request.set_trial_id(1);
  v1::Measurement* measurement = request.add_measurements();
  (*measurement->mutable_metrics())[std::string(300, 'm')] = 1.0;
  const absl::Status status = CheckReportMeasurement(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("measurements[0].metrics: a metric name may have at "
                        "most 256 characters, got 300"));
}

TEST(CheckCompleteTrialTest, LongInfeasibleReasonsAreRefused) {
  v1::CompleteTrialRequest request;
  request.set_study("s");
  request.set_trial_id(1);
  request.set_infeasible(true);
  request.set_infeasible_reason(std::string(kMaxReasonLength + 1, 'r'));
  EXPECT_THAT(CheckCompleteTrial(request).message(),
              HasSubstr("infeasible_reason: must be at most 4096"));
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
  v1::Measurement* first = request.add_measurements();
  first->set_step(0);
  (*first->mutable_metrics())["loss"] = NAN;
  v1::Measurement* second = request.add_measurements();
  second->set_step(1);
  (*second->mutable_metrics())["loss"] = INFINITY;
  EXPECT_TRUE(CheckReportMeasurement(request).ok());
  second->set_step(-3);
  EXPECT_EQ(CheckReportMeasurement(request).message(),
            "measurements[1].step: must be at least 0, got -3");
  request.set_trial_id(0);
  EXPECT_THAT(CheckReportMeasurement(request).message(), HasSubstr("trial_id"));
}

TEST(CheckReportMeasurementTest, NeedsOneToAThousandMeasurementsWithMetrics) {
  v1::ReportMeasurementRequest request;
  request.set_trial_id(4);
  EXPECT_EQ(CheckReportMeasurement(request).message(),
            "measurements: must hold at least one");
  request.add_measurements()->set_step(2);
  EXPECT_EQ(CheckReportMeasurement(request).message(),
            "measurements[0].metrics: must hold at least one metric");
  request.clear_measurements();
  for (int step = 0; step <= kMaxMeasurementsPerReport; ++step) {
    v1::Measurement* measurement = request.add_measurements();
    measurement->set_step(step);
    (*measurement->mutable_metrics())["loss"] = 1.0;
  }
  EXPECT_EQ(CheckReportMeasurement(request).message(),
            "measurements: at most 1000 per call, got 1001");
  request.mutable_measurements()->RemoveLast();
  EXPECT_TRUE(CheckReportMeasurement(request).ok());
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
