#include "algorithms/early_stopping/median_rule.h"

#include <cmath>
#include <limits>

#include "algorithms/early_stopping/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::algorithms {
namespace {

using testing::Context;
using ::testing::HasSubstr;
using testing::Rule;

constexpr v1::ObjectiveSpec::Goal kMax = v1::ObjectiveSpec::MAXIMIZE;
constexpr v1::ObjectiveSpec::Goal kMin = v1::ObjectiveSpec::MINIMIZE;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kTrial = 99;

std::unique_ptr<EarlyStoppingRule> Median(v1::ObjectiveSpec::Goal goal,
                                          double min_trials,
                                          double start_step) {
  return Rule("median", Context(goal, {{"min_trials", min_trials},
                                       {"start_step", start_step}}));
}

// Three other trials whose best values by step 2 are 0.6, 0.7 and 0.8: the
// median is 0.7.
CurveHistory ThreeOthers() {
  return {
      {1, {{1, 0.5}, {2, 0.6}}},
      {2, {{1, 0.4}, {2, 0.7}}},
      {3, {{1, 0.6}, {2, 0.8}, {3, 0.85}}},
  };
}

TEST(MedianRuleTest, StopsATrialWorseThanTheMedianAtItsStep) {
  CurveHistory history = ThreeOthers();
  history[kTrial] = {{1, 0.3}, {2, 0.35}};
  std::optional<StopDecision> decision =
      Median(kMax, 3, 1)->ShouldStop(history, kTrial, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->reason,
            "best 0.35 (step 2) is worse than the median 0.7 of 3 other "
            "trials at step 2");
}

TEST(MedianRuleTest, LetsABetterTrialGoOn) {
  CurveHistory history = ThreeOthers();
  history[kTrial] = {{1, 0.3}, {2, 0.75}};
  EXPECT_FALSE(Median(kMax, 3, 1)->ShouldStop(history, kTrial, 2));
}

TEST(MedianRuleTest, ATieWithTheMedianGoesOn) {
  CurveHistory history = ThreeOthers();
  history[kTrial] = {{1, 0.3}, {2, 0.7}};
  EXPECT_FALSE(Median(kMax, 3, 1)->ShouldStop(history, kTrial, 2));
}

TEST(MedianRuleTest, AnEvenCountTakesTheMeanOfTheMiddleValues) {
  // Others by step 1: 0.2, 0.4, 0.6, 0.8; the median is 0.5.
  CurveHistory history = {
      {1, {{1, 0.2}}}, {2, {{1, 0.4}}}, {3, {{1, 0.6}}}, {4, {{1, 0.8}}}};
  auto rule = Median(kMax, 4, 1);
  history[kTrial] = {{1, 0.49}};
  EXPECT_TRUE(rule->ShouldStop(history, kTrial, 1));
  history[kTrial] = {{1, 0.5}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
  history[kTrial] = {{1, 0.51}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
}

TEST(MedianRuleTest, WaitsForMinTrialsThatReachedTheStep) {
  CurveHistory history = ThreeOthers();
  // Trial 4 has not reached step 2, so only three trials count.
  history[4] = {{1, 0.9}};
  history[kTrial] = {{1, 0.1}, {2, 0.1}};
  EXPECT_FALSE(Median(kMax, 4, 1)->ShouldStop(history, kTrial, 2));
  EXPECT_TRUE(Median(kMax, 3, 1)->ShouldStop(history, kTrial, 2));
}

TEST(MedianRuleTest, DecidesNothingBeforeStartStep) {
  CurveHistory history = ThreeOthers();
  history[kTrial] = {{1, 0.0}, {2, 0.0}};
  auto rule = Median(kMax, 3, 2);
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
  EXPECT_TRUE(rule->ShouldStop(history, kTrial, 2));
}

TEST(MedianRuleTest, JudgesTheBestValueSoFarNotTheLast) {
  CurveHistory history = ThreeOthers();
  history[kTrial] = {{1, 0.9}, {2, 0.1}};
  EXPECT_FALSE(Median(kMax, 3, 1)->ShouldStop(history, kTrial, 2));
}

TEST(MedianRuleTest, MinimiseStopsATrialWhoseLowestValueIsAboveTheMedian) {
  // Losses by step 2: 0.3, 0.2, 0.1 (the lowest of each); median 0.2.
  CurveHistory history = {
      {1, {{1, 0.5}, {2, 0.3}}},
      {2, {{1, 0.2}, {2, 0.4}}},
      {3, {{1, 0.3}, {2, 0.1}}},
  };
  auto rule = Median(kMin, 3, 1);
  history[kTrial] = {{1, 0.6}, {2, 0.25}};
  std::optional<StopDecision> decision = rule->ShouldStop(history, kTrial, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_THAT(decision->reason, HasSubstr("median 0.2 of 3"));
  history[kTrial] = {{1, 0.6}, {2, 0.15}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 2));
  history[kTrial] = {{1, 0.2}, {2, 0.6}};  // a tie, by its best
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 2));
}

TEST(MedianRuleTest, MissingStepsUseTheBestValueReportedUpToTheStep) {
  // At step 3, which nobody reported: trial 1 reached it (step 5) with 0.9
  // by then; trial 2 with 0.8 (step 2); trial 3 reached it but had no value
  // by then, so it does not count; trial 4 has not reached step 3.
  CurveHistory history = {
      {1, {{1, 0.9}, {5, 0.95}}},
      {2, {{2, 0.8}, {4, 0.1}}},
      {3, {{5, 0.99}}},
      {4, {{1, 0.99}, {2, 0.99}}},
  };
  history[kTrial] = {{1, 0.2}, {3, 0.84}};
  auto rule = Median(kMax, 2, 1);
  std::optional<StopDecision> decision = rule->ShouldStop(history, kTrial, 3);
  ASSERT_TRUE(decision.has_value());
  EXPECT_THAT(decision->reason, HasSubstr("median 0.85 of 2 other trials"));
  history[kTrial] = {{1, 0.2}, {3, 0.86}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 3));
}

TEST(MedianRuleTest, IgnoresValuesThatAreNotFinite) {
  CurveHistory history = ThreeOthers();
  history[4] = {{1, kNaN}, {2, kNaN}};  // reached step 2, but no value
  history[kTrial] = {{1, 0.65}, {2, std::numeric_limits<double>::infinity()}};
  // Median of 0.6, 0.7, 0.8 (not counting trial 4); its best is 0.65.
  EXPECT_TRUE(Median(kMax, 3, 1)->ShouldStop(history, kTrial, 2));
  EXPECT_FALSE(Median(kMax, 4, 1)->ShouldStop(history, kTrial, 2));
  history[kTrial] = {{2, kNaN}};
  EXPECT_FALSE(Median(kMax, 3, 1)->ShouldStop(history, kTrial, 2));
}

TEST(MedianRuleTest, AnUnknownTrialGoesOn) {
  EXPECT_FALSE(Median(kMax, 1, 0)->ShouldStop(ThreeOthers(), kTrial, 2));
}

TEST(MedianRuleTest, DefaultsAreFiveTrialsFromStepOne) {
  auto rule = Rule("median", Context(kMax, {}));
  CurveHistory history;
  for (int64_t id = 1; id <= 4; ++id) history[id] = {{1, 0.9}};
  history[kTrial] = {{1, 0.1}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));  // 4 others
  history[5] = {{1, 0.9}};
  EXPECT_TRUE(rule->ShouldStop(history, kTrial, 1));
}

TEST(MedianRuleTest, RejectsBadSettingsNamingTheSetting) {
  auto error = [](std::vector<std::pair<std::string, double>> settings) {
    return std::string(
        CreateMedianRule(Context(kMax, settings)).status().message());
  };
  EXPECT_THAT(error({{"min_trails", 3}}),
              HasSubstr("settings.min_trails: unknown setting for "
                        "early-stopping rule 'median'"));
  EXPECT_EQ(error({{"min_trials", 0}}),
            "settings.min_trials: must be at least 1 (not 0)");
  EXPECT_EQ(error({{"start_step", -1}}),
            "settings.start_step: must be at least 0 (not -1)");
  EXPECT_EQ(error({{"min_trials", 2.5}}),
            "settings.min_trials: must be an integer (not 2.5)");
  EarlyStoppingContext text = Context(kMax, {});
  (*text.settings.mutable_fields())["min_trials"].set_string_value("five");
  EXPECT_EQ(CreateMedianRule(text).status().message(),
            "settings.min_trials: must be an integer of at least 1");
}

}  // namespace
}  // namespace vernier::algorithms
