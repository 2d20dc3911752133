#include "trial-runner/kubernetes/resource_requests.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::kubernetes {
namespace {

using ::testing::DoubleEq;
using ::testing::HasSubstr;

TEST(ParseQuantityTest, ReadsDecimalAndBinarySuffixes) {
  EXPECT_THAT(*ParseQuantity("4"), DoubleEq(4));
  EXPECT_THAT(*ParseQuantity("500m"), DoubleEq(0.5));
  EXPECT_THAT(*ParseQuantity("1.5"), DoubleEq(1.5));
  EXPECT_THAT(*ParseQuantity("16Gi"), DoubleEq(16.0 * (1 << 30)));
  EXPECT_THAT(*ParseQuantity("512Mi"), DoubleEq(512.0 * (1 << 20)));
  EXPECT_THAT(*ParseQuantity("2G"), DoubleEq(2e9));
  EXPECT_THAT(*ParseQuantity("1e3"), DoubleEq(1000));
}

TEST(ParseQuantityTest, RefusesWhatIsNotAQuantity) {
  for (const char* text : {"", "Gi", "four", "-1", "${params.cpus}", "1 Gi"}) {
    absl::StatusOr<double> parsed = ParseQuantity(text);
    EXPECT_FALSE(parsed.ok()) << text;
  }
  EXPECT_THAT(ParseQuantity("four").status().message(),
              HasSubstr("'four' is not a Kubernetes quantity"));
}

nlohmann::json JobWith(nlohmann::json containers) {
  return {{"spec", {{"template", {{"spec", {{"containers", containers}}}}}}}};
}

TEST(PodRequestsOfTest, SumsContainersAndFallsBackToLimits) {
  const nlohmann::json job = JobWith(nlohmann::json::array(
      {{{"name", "trial"},
        {"resources",
         {{"requests", {{"cpu", "4"}, {"memory", "16Gi"}, {"nvidia.com/gpu", 1}}},
          {"limits", {{"cpu", "8"}}}}}},
       {{"name", "sidecar"},
        {"resources", {{"limits", {{"cpu", "500m"}, {"memory", "512Mi"}}}}}},
       {{"name", "bare"}}}));
  absl::StatusOr<PodRequests> requests = PodRequestsOf(job);
  ASSERT_TRUE(requests.ok()) << requests.status();
  EXPECT_THAT(requests->gpus, DoubleEq(1));
  EXPECT_THAT(requests->cpus, DoubleEq(4.5));
  EXPECT_THAT(requests->memory_gb, DoubleEq(16.5));
}

TEST(PodRequestsOfTest, NamesTheQuantityItCannotRead) {
  const nlohmann::json job = JobWith(nlohmann::json::array(
      {{{"name", "trial"},
        {"resources", {{"requests", {{"cpu", "${params.cpus}"}}}}}}}));
  absl::StatusOr<PodRequests> requests = PodRequestsOf(job);
  ASSERT_FALSE(requests.ok());
  EXPECT_THAT(requests.status().message(),
              HasSubstr("spec.template.spec.containers[0].resources.requests."
                        "cpu: '${params.cpus}' is not a Kubernetes quantity"));
}

}  // namespace
}  // namespace vernier::kubernetes
