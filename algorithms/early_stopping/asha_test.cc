#include "algorithms/early_stopping/asha.h"

#include <limits>

#include "algorithms/early_stopping/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::algorithms {
namespace {

using testing::Context;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Rule;

constexpr v1::ObjectiveSpec::Goal kMax = v1::ObjectiveSpec::MAXIMIZE;
constexpr v1::ObjectiveSpec::Goal kMin = v1::ObjectiveSpec::MINIMIZE;
constexpr int64_t kTrial = 99;

// Rungs 1, 3 and 9 (max_step 27, reduction factor 3).
std::unique_ptr<EarlyStoppingRule> Asha(v1::ObjectiveSpec::Goal goal) {
  return Rule("asha", Context(goal, {{"min_step", 1},
                                     {"max_step", 27},
                                     {"reduction_factor", 3}}));
}

TEST(AshaTest, RungsAreMinStepTimesPowersOfTheFactorBelowMaxStep) {
  EXPECT_THAT(AshaRungs(1, 81, 3), ElementsAre(1, 3, 9, 27));
  EXPECT_THAT(AshaRungs(1, 27, 3), ElementsAre(1, 3, 9));
  EXPECT_THAT(AshaRungs(2, 20, 2), ElementsAre(2, 4, 8, 16));
  EXPECT_THAT(AshaRungs(5, 15, 3), ElementsAre(5));
  EXPECT_THAT(AshaRungs(1, std::numeric_limits<int64_t>::max(), 1 << 30),
              ElementsAre(1, 1 << 30, int64_t{1} << 60));
}

TEST(AshaTest, TheFirstTrialAtARungGoesOn) {
  CurveHistory history = {{kTrial, {{1, 0.01}}}};
  EXPECT_FALSE(Asha(kMax)->ShouldStop(history, kTrial, 1));
}

TEST(AshaTest, WithFewerTrialsThanTheFactorOnlyTheBestGoesOn) {
  // n = 2, floor(2 / 3) = 0, so one trial (the best) goes on.
  CurveHistory history = {{1, {{1, 0.5}}}, {kTrial, {{1, 0.4}}}};
  std::optional<StopDecision> decision =
      Asha(kMax)->ShouldStop(history, kTrial, 1);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->reason,
            "best 0.4 by rung 1 is not among the best 1 of the 2 trials that "
            "reached it (cutoff 0.5)");
  history[kTrial] = {{1, 0.6}};
  EXPECT_FALSE(Asha(kMax)->ShouldStop(history, kTrial, 1));
  history[kTrial] = {{1, 0.5}};  // a tie goes on
  EXPECT_FALSE(Asha(kMax)->ShouldStop(history, kTrial, 1));
}

TEST(AshaTest, KeepsTheTopThirdOfTheTrialsAtTheRung) {
  // Six trials at rung 1 keep floor(6 / 3) = 2: the cutoff is the second
  // best value, the trial's own included.
  CurveHistory history = {{1, {{1, 0.9}}},
                          {2, {{1, 0.8}}},
                          {3, {{1, 0.6}}},
                          {4, {{1, 0.5}}},
                          {5, {{1, 0.4}}}};
  auto rule = Asha(kMax);
  history[kTrial] = {{1, 0.85}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
  history[kTrial] = {{1, 0.8}};  // ties with the second best
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
  history[kTrial] = {{1, 0.7}};
  std::optional<StopDecision> decision = rule->ShouldStop(history, kTrial, 1);
  ASSERT_TRUE(decision.has_value());
  EXPECT_THAT(decision->reason, HasSubstr("best 2 of the 6 trials"));
  EXPECT_THAT(decision->reason, HasSubstr("cutoff 0.8"));
}

TEST(AshaTest, PromotesAgainstTheTrialsThatReachedTheRungSoFar) {
  // Asynchronous: trial 1 goes on when it is alone at rung 1, without waiting
  // for the rung to fill; the same report, asked about once trial 2 is there
  // too, is judged against it.
  CurveHistory history = {{1, {{1, 0.5}}}};
  auto rule = Asha(kMax);
  EXPECT_FALSE(rule->ShouldStop(history, 1, 1));
  history[2] = {{1, 0.9}};
  EXPECT_TRUE(rule->ShouldStop(history, 1, 1));
}

TEST(AshaTest, JudgesATrialOncePerRungAtTheReportThatReachedIt) {
  CurveHistory history = {{1, {{1, 0.9}, {2, 0.9}, {3, 0.9}}}};
  auto rule = Asha(kMax);
  history[kTrial] = {{1, 0.95}, {2, 0.1}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
  // Step 2 is no rung: nothing is judged, however bad.
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 2));
  history[kTrial][3] = 0.2;
  // Rung 3: its best by then (0.95) against trial 1's 0.9.
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 3));
  history[1][3] = 0.99;
  EXPECT_TRUE(rule->ShouldStop(history, kTrial, 3));
}

TEST(AshaTest, AReportThatJumpsPastRungsIsJudgedAtEach) {
  // Rung 3: trial 1 has 0.5; rung 9: trial 1 has 0.99 (reached at step 12).
  CurveHistory history = {{1, {{1, 0.1}, {3, 0.5}, {12, 0.99}}}};
  auto rule = Asha(kMax);
  history[kTrial] = {{1, 0.2}, {10, 0.9}};
  // Rung 3 (0.9 beats 0.5) passes; rung 9 (0.9 against 0.99) does not.
  std::optional<StopDecision> decision = rule->ShouldStop(history, kTrial, 10);
  ASSERT_TRUE(decision.has_value());
  EXPECT_THAT(decision->reason, HasSubstr("by rung 9"));
  EXPECT_THAT(decision->reason, HasSubstr("cutoff 0.99"));
  history[1][3] = 0.95;
  decision = rule->ShouldStop(history, kTrial, 10);
  ASSERT_TRUE(decision.has_value());
  EXPECT_THAT(decision->reason, HasSubstr("by rung 3"));
}

TEST(AshaTest, ATrialsRungValueIsItsBestUpToTheStepThatReachedIt) {
  // Trial 1 skipped step 3: its rung-3 value is its best up to step 5, 0.8.
  // Trial 2 reached rung 3 at step 4 with 0.99 (its NaN does not count).
  CurveHistory history = {
      {1, {{1, 0.8}, {5, 0.3}}},
      {2, {{1, std::numeric_limits<double>::quiet_NaN()}, {4, 0.99}}},
  };
  auto rule = Asha(kMax);
  history[kTrial] = {{1, 0.5}, {3, 0.79}};
  std::optional<StopDecision> decision = rule->ShouldStop(history, kTrial, 3);
  ASSERT_TRUE(decision.has_value());
  EXPECT_THAT(decision->reason, HasSubstr("of the 3 trials"));
  EXPECT_THAT(decision->reason, HasSubstr("cutoff 0.99"));
  history[2] = {{1, std::numeric_limits<double>::quiet_NaN()},
                {4, std::numeric_limits<double>::quiet_NaN()}};
  decision = rule->ShouldStop(history, kTrial, 3);
  ASSERT_TRUE(decision.has_value());
  EXPECT_THAT(decision->reason, HasSubstr("of the 2 trials"));
  EXPECT_THAT(decision->reason, HasSubstr("cutoff 0.8"));
}

TEST(AshaTest, MinimiseKeepsTheLowestValues) {
  CurveHistory history = {{1, {{1, 2.0}}}, {2, {{1, 3.0}}}};
  auto rule = Asha(kMin);
  history[kTrial] = {{1, 1.0}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
  history[kTrial] = {{1, 2.5}};
  std::optional<StopDecision> decision = rule->ShouldStop(history, kTrial, 1);
  ASSERT_TRUE(decision.has_value());
  EXPECT_THAT(decision->reason, HasSubstr("cutoff 2"));
  history[kTrial] = {{1, 2.0}};  // a tie goes on
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
}

TEST(AshaTest, NothingIsJudgedAtOrBeyondMaxStep) {
  CurveHistory history = {{1, {{27, 0.9}, {30, 0.9}}}};
  history[kTrial] = {{27, 0.1}};
  auto rule = Asha(kMax);
  // Step 27 is the first the trial reports: rungs 1, 3 and 9 are judged
  // there (0.1 against 0.9 fails at rung 1), but 27 itself is no rung.
  EXPECT_THAT(rule->ShouldStop(history, kTrial, 27)->reason,
              HasSubstr("by rung 1"));
  history[kTrial] = {{1, 0.95}, {3, 0.95}, {9, 0.95}, {27, 0.1}, {30, 0.0}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 27));
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 30));
}

TEST(AshaTest, DefaultsAreMinStepOneAndFactorThree) {
  // Rungs 1 and 3 (a factor of 2 would add a rung at step 2).
  auto rule = Rule("asha", Context(kMax, {{"max_step", 9}}));
  CurveHistory history = {{kTrial, {{1, 0.5}}}};
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 1));
  history[1] = {{3, 0.9}};
  history[kTrial][2] = 0.5;
  EXPECT_FALSE(rule->ShouldStop(history, kTrial, 2));
  history[kTrial][3] = 0.5;
  EXPECT_TRUE(rule->ShouldStop(history, kTrial, 3));
}

TEST(AshaTest, RejectsBadSettingsNamingTheSetting) {
  auto error = [](std::vector<std::pair<std::string, double>> settings) {
    return std::string(CreateAsha(Context(kMax, settings)).status().message());
  };
  EXPECT_EQ(error({{"max_step", 81}, {"reduction_factor", 1}}),
            "settings.reduction_factor: must be at least 2 (not 1)");
  EXPECT_EQ(error({{"max_step", 81}, {"reduction_factor", 2.5}}),
            "settings.reduction_factor: must be an integer (not 2.5)");
  EXPECT_THAT(error({{"min_step", 1}}),
              HasSubstr("settings.max_step: required"));
  EXPECT_EQ(error({{"min_step", 5}, {"max_step", 10}}),
            "settings.max_step: the rungs do not fit: min_step (5) times "
            "reduction_factor (3), the second rung, must not exceed max_step "
            "(10)");
  EXPECT_THAT(error({{"min_step", 0}, {"max_step", 10}}),
              HasSubstr("settings.min_step: must be at least 1"));
  EXPECT_THAT(error({{"max_step", 10}, {"grace", 1}}),
              HasSubstr("settings.grace: unknown setting for early-stopping "
                        "rule 'asha'"));
  EXPECT_TRUE(
      CreateAsha(Context(kMax, {{"min_step", 5}, {"max_step", 15}})).ok());
}

}  // namespace
}  // namespace vernier::algorithms
