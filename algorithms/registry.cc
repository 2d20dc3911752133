#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "algorithms/algorithm.h"
#include "algorithms/grid.h"
#include "algorithms/random_search.h"

namespace vernier::algorithms {
namespace {

// Every algorithm known by name. A new algorithm adds one line.
const std::map<std::string, AlgorithmFactory>& Registry() {
  static const auto* const registry =
      new std::map<std::string, AlgorithmFactory>{
          {"grid", CreateGridSearch},
          {"random", CreateRandomSearch},
      };
  return *registry;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Algorithm>> CreateAlgorithm(
    const std::string& name, const AlgorithmContext& context) {
  const auto it = Registry().find(name);
  if (it == Registry().end()) {
    return absl::NotFoundError(
        absl::StrCat("unknown algorithm '", name,
                     "' (known: ", absl::StrJoin(AlgorithmNames(), ", "), ")"));
  }
  return it->second(context);
}

std::vector<std::string> AlgorithmNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Registry()) names.push_back(name);
  return names;
}

}  // namespace vernier::algorithms
