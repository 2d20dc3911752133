#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "algorithms/early_stopping/asha.h"
#include "algorithms/early_stopping/early_stopping_rule.h"
#include "algorithms/early_stopping/median_rule.h"

namespace vernier::algorithms {
namespace {

// Every rule by name; a new rule adds one line.
const std::map<std::string, EarlyStoppingRuleFactory>& Rules() {
  static const auto* const rules =
      new std::map<std::string, EarlyStoppingRuleFactory>{
          {"asha", CreateAsha},
          {"median", CreateMedianRule},
      };
  return *rules;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EarlyStoppingRule>> CreateEarlyStoppingRule(
    const std::string& name, const EarlyStoppingContext& context) {
  auto it = Rules().find(name);
  if (it == Rules().end()) {
    return absl::NotFoundError(absl::StrCat(
        "unknown early-stopping rule '", name,
        "' (known: ", absl::StrJoin(EarlyStoppingRuleNames(), ", "), ")"));
  }
  return it->second(context);
}

std::vector<std::string> EarlyStoppingRuleNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Rules()) names.push_back(name);
  return names;
}

}  // namespace vernier::algorithms
