#include "web/study_cost.h"

#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vernier::web {
namespace {

google::protobuf::Timestamp At(absl::Time time) {
  google::protobuf::Timestamp proto;
  proto.set_seconds(absl::ToUnixSeconds(time));
  return proto;
}

// One GPU at 2 EUR an hour, a budget of 10 EUR.
v1::Study PricedStudy() {
  v1::Study study;
  study.set_name("priced");
  v1::StudySpec& spec = *study.mutable_spec();
  spec.mutable_worker()->set_gpus_per_trial(1);
  spec.mutable_worker()->mutable_pricing()->set_gpu_hour(2);
  spec.mutable_budget()->set_max_cost(10);
  spec.mutable_budget()->set_currency("EUR");
  return study;
}

class StudyCostTest : public ::testing::Test {
 protected:
  // Trial 1 ran the first hour (cost 2, recorded); trial 2 runs since.
  void SetUp() override {
    v1::Trial& done = trials_.emplace_back();
    done.set_number(1);
    done.set_state(v1::Trial::SUCCEEDED);
    *done.mutable_start_time() = At(start_);
    *done.mutable_end_time() = At(start_ + absl::Hours(1));
    done.set_cost(2);
    v1::Trial& running = trials_.emplace_back();
    running.set_number(2);
    running.set_state(v1::Trial::RUNNING);
    *running.mutable_start_time() = At(start_ + absl::Hours(1));
    v1::Trial& pending = trials_.emplace_back();
    pending.set_number(3);
    pending.set_state(v1::Trial::PENDING);
  }

  const absl::Time start_ = absl::FromUnixSeconds(1'700'000'000);
  const absl::Time now_ = start_ + absl::Hours(2);
  std::vector<v1::Trial> trials_;
};

TEST_F(StudyCostTest, SpendCountsEndedAndRunningTrialsAgainstTheBudget) {
  const StudyCost cost = ComputeStudyCost(PricedStudy(), trials_, now_);
  EXPECT_EQ(cost.currency, "EUR");
  ASSERT_TRUE(cost.max_cost.has_value());
  EXPECT_DOUBLE_EQ(*cost.max_cost, 10);
  EXPECT_DOUBLE_EQ(cost.hourly_rate, 2);
  EXPECT_DOUBLE_EQ(cost.balance.spent, 4);
  EXPECT_EQ(cost.balance.running, 1);
}

TEST_F(StudyCostTest, SpendOverTimeRisesFromTheFirstStartToNow) {
  const StudyCost cost = ComputeStudyCost(PricedStudy(), trials_, now_);
  const std::vector<CostPoint>& points = cost.spent_over_time;
  ASSERT_EQ(points.size(), static_cast<size_t>(kMaxCostPoints));
  EXPECT_DOUBLE_EQ(points.front().seconds, absl::ToUnixSeconds(start_));
  EXPECT_DOUBLE_EQ(points.front().spent, 0);
  EXPECT_DOUBLE_EQ(points.back().seconds, absl::ToUnixSeconds(now_));
  EXPECT_DOUBLE_EQ(points.back().spent, 4);
  for (size_t k = 1; k < points.size(); ++k) {
    EXPECT_GE(points[k].spent, points[k - 1].spent) << "point " << k;
  }
  // Half way, when trial 1 ended: its 2 EUR, nothing of trial 2 yet (within
  // a sample step).
  const CostPoint& middle = points[points.size() / 2];
  EXPECT_NEAR(middle.spent, 2, 0.05);
}

TEST_F(StudyCostTest, UnpricedStudyHasNoCurve) {
  v1::Study study;
  study.set_name("free");
  const StudyCost cost = ComputeStudyCost(study, trials_, now_);
  EXPECT_EQ(cost.currency, "USD");
  EXPECT_FALSE(cost.max_cost.has_value());
  EXPECT_DOUBLE_EQ(cost.balance.spent, 2);  // what trial 1 recorded
  EXPECT_TRUE(cost.spent_over_time.empty());
}

TEST_F(StudyCostTest, JsonNamesTheBudgetOnlyWhenThereIsOne) {
  nlohmann::json priced = nlohmann::json::parse(
      StudyCostJson(ComputeStudyCost(PricedStudy(), trials_, now_)));
  EXPECT_EQ(priced["currency"], "EUR");
  EXPECT_DOUBLE_EQ(priced["maxCost"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(priced["spent"].get<double>(), 4);
  EXPECT_EQ(priced["spentOverTime"]["seconds"].size(),
            static_cast<size_t>(kMaxCostPoints));
  v1::Study free;
  nlohmann::json unpriced =
      nlohmann::json::parse(StudyCostJson(ComputeStudyCost(free, {}, now_)));
  EXPECT_FALSE(unpriced.contains("maxCost"));
  EXPECT_FALSE(unpriced.contains("remaining"));
}

}  // namespace
}  // namespace vernier::web
