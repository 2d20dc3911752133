#include "controller/run_limits.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::controller {
namespace {

using ::testing::HasSubstr;

google::protobuf::Map<std::string, std::string> Labels(
    std::map<std::string, std::string> labels) {
  return google::protobuf::Map<std::string, std::string>(labels.begin(),
                                                         labels.end());
}

TEST(AddLabelCapTest, ParsesLabelAndCap) {
  RunLimitsSpec spec;
  ASSERT_TRUE(AddLabelCap("team=8", spec).ok());
  EXPECT_EQ(spec.max_running_per_label.at("team"), 8);
}

TEST(AddLabelCapTest, RefusesWhatIsNotLabelEqualsPositiveInteger) {
  RunLimitsSpec spec;
  EXPECT_THAT(AddLabelCap("team", spec).message(), HasSubstr("is not LABEL=N"));
  EXPECT_THAT(AddLabelCap("=3", spec).message(), HasSubstr("is not LABEL=N"));
  EXPECT_THAT(AddLabelCap("team=0", spec).message(),
              HasSubstr("at least 1"));
  EXPECT_THAT(AddLabelCap("team=many", spec).message(),
              HasSubstr("whole number"));
  ASSERT_TRUE(AddLabelCap("team=2", spec).ok());
  EXPECT_THAT(AddLabelCap("team=3", spec).message(), HasSubstr("capped twice"));
}

TEST(RunLimitsTest, WithoutCapsEveryTrialRuns) {
  RunLimits limits({});
  std::string why;
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(limits.TryAcquire(1, Labels({}), &why).has_value());
  }
}

TEST(RunLimitsTest, ServerCapHoldsBackAcrossStudiesUntilReleased) {
  RunLimits limits({.max_running = 2});
  std::string why;
  std::optional<RunLimits::Grant> a = limits.TryAcquire(1, Labels({}), &why);
  std::optional<RunLimits::Grant> b = limits.TryAcquire(2, Labels({}), &why);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_FALSE(limits.TryAcquire(3, Labels({}), &why).has_value());
  EXPECT_EQ(why,
            "the server's cap of 2 running trials (--max-running-trials)");
  limits.Release(*a);
  // Study 1 asks again, but study 3 has waited longer: the slot is its.
  EXPECT_FALSE(limits.TryAcquire(1, Labels({}), &why).has_value());
  EXPECT_TRUE(limits.TryAcquire(3, Labels({}), &why).has_value());
}

TEST(RunLimitsTest, LabelCapCountsEachValueApartAndIgnoresUnlabelled) {
  RunLimitsSpec spec;
  ASSERT_TRUE(AddLabelCap("team=1", spec).ok());
  RunLimits limits(spec);
  std::string why;
  std::optional<RunLimits::Grant> fraud =
      limits.TryAcquire(1, Labels({{"team", "fraud"}}), &why);
  ASSERT_TRUE(fraud.has_value());
  EXPECT_FALSE(limits.TryAcquire(2, Labels({{"team", "fraud"}}), &why));
  EXPECT_EQ(why, "the cap of 1 running trials for team=fraud "
                 "(--max-running-per)");
  EXPECT_TRUE(limits.TryAcquire(3, Labels({{"team", "ads"}}), &why));
  EXPECT_TRUE(limits.TryAcquire(4, Labels({{"owner", "ana"}}), &why));
  limits.Release(*fraud);
  EXPECT_TRUE(limits.TryAcquire(2, Labels({{"team", "fraud"}}), &why));
}

TEST(RunLimitsTest, RefusedByALabelCapGivesBackTheServerSlot) {
  RunLimitsSpec spec{.max_running = 2};
  ASSERT_TRUE(AddLabelCap("team=1", spec).ok());
  RunLimits limits(spec);
  std::string why;
  ASSERT_TRUE(limits.TryAcquire(1, Labels({{"team", "fraud"}}), &why));
  EXPECT_FALSE(limits.TryAcquire(1, Labels({{"team", "fraud"}}), &why));
  EXPECT_THAT(why, HasSubstr("team=fraud"));
  // The server slot study 1 took for its refused trial is free again.
  EXPECT_TRUE(limits.TryAcquire(2, Labels({{"team", "ads"}}), &why));
}

TEST(RunLimitsTest, WithdrawnStudyNoLongerHoldsItsTurn) {
  RunLimits limits({.max_running = 1});
  std::string why;
  std::optional<RunLimits::Grant> a = limits.TryAcquire(1, Labels({}), &why);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(limits.TryAcquire(2, Labels({}), &why));
  limits.Withdraw(2);
  limits.Release(*a);
  EXPECT_TRUE(limits.TryAcquire(3, Labels({}), &why).has_value());
}

}  // namespace
}  // namespace vernier::controller
