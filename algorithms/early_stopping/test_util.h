// Building rules and contexts in the early-stopping tests.
#ifndef VERNIER_ALGORITHMS_EARLY_STOPPING_TEST_UTIL_H_
#define VERNIER_ALGORITHMS_EARLY_STOPPING_TEST_UTIL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "algorithms/early_stopping/early_stopping_rule.h"
#include "gtest/gtest.h"

namespace vernier::algorithms::testing {

// A context with `goal` and numeric settings.
inline EarlyStoppingContext Context(
    v1::ObjectiveSpec::Goal goal,
    std::vector<std::pair<std::string, double>> settings) {
  EarlyStoppingContext context;
  context.objective.set_metric("score");
  context.objective.set_goal(goal);
  for (const auto& [key, value] : settings) {
    (*context.settings.mutable_fields())[key].set_number_value(value);
  }
  return context;
}

// The rule `name` built from `context`; fails the test if it cannot be.
inline std::unique_ptr<EarlyStoppingRule> Rule(
    const std::string& name, const EarlyStoppingContext& context) {
  absl::StatusOr<std::unique_ptr<EarlyStoppingRule>> rule =
      CreateEarlyStoppingRule(name, context);
  EXPECT_TRUE(rule.ok()) << rule.status();
  return rule.ok() ? *std::move(rule) : nullptr;
}

}  // namespace vernier::algorithms::testing

#endif  // VERNIER_ALGORITHMS_EARLY_STOPPING_TEST_UTIL_H_
