#include "algorithms/early_stopping/early_stopping_rule.h"
#include "algorithms/early_stopping/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::algorithms {
namespace {

using ::testing::ElementsAre;

TEST(EarlyStoppingRegistryTest, KnowsMedianAndAsha) {
  EXPECT_THAT(EarlyStoppingRuleNames(), ElementsAre("asha", "median"));
  EXPECT_TRUE(CreateEarlyStoppingRule(
                  "median", testing::Context(v1::ObjectiveSpec::MAXIMIZE, {}))
                  .ok());
}

TEST(EarlyStoppingRegistryTest, AnUnknownNameListsTheKnownOnes) {
  absl::StatusOr<std::unique_ptr<EarlyStoppingRule>> rule =
      CreateEarlyStoppingRule(
          "hyperband", testing::Context(v1::ObjectiveSpec::MAXIMIZE, {}));
  EXPECT_TRUE(absl::IsNotFound(rule.status()));
  EXPECT_EQ(rule.status().message(),
            "unknown early-stopping rule 'hyperband' (known: asha, median)");
}

}  // namespace
}  // namespace vernier::algorithms
