#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "algorithms/algorithm.h"
#include "algorithms/gp/gp_algorithm.h"
#include "algorithms/grid.h"
#include "algorithms/random_search.h"

namespace vernier::algorithms {
namespace {

// Every algorithm known by name: the built-ins (a new one adds one line
// below), then whatever binaries register at start-up. Entries are only
// added, never replaced or removed.
class Registry {
 public:
  static Registry& Get() {
    static Registry* const registry = new Registry;
    return *registry;
  }

  absl::Status Add(const std::string& name, AlgorithmFactory factory) {
    if (name.empty()) {
      return absl::InvalidArgumentError("an algorithm needs a name");
    }
    if (!factory) {
      return absl::InvalidArgumentError(
          absl::StrCat("algorithm '", name, "' has no factory"));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!factories_.emplace(name, std::move(factory)).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("algorithm '", name, "' is already registered"));
    }
    return absl::OkStatus();
  }

  // A copy, so that the factory runs without the lock.
  std::optional<AlgorithmFactory> Find(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = factories_.find(name);
    if (it == factories_.end()) return std::nullopt;
    return it->second;
  }

  std::vector<std::string> Names() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> names;
    names.reserve(factories_.size());
    for (const auto& [name, factory] : factories_) names.push_back(name);
    return names;
  }

 private:
  Registry()
      : factories_{
            {"gp", CreateGpAlgorithm},
            {"grid", CreateGridSearch},
            {"random", CreateRandomSearch},
        } {}

  std::mutex mutex_;
  std::map<std::string, AlgorithmFactory> factories_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Algorithm>> CreateAlgorithm(
    const std::string& name, const AlgorithmContext& context) {
  std::optional<AlgorithmFactory> factory = Registry::Get().Find(name);
  if (!factory) {
    return absl::NotFoundError(
        absl::StrCat("unknown algorithm '", name,
                     "' (known: ", absl::StrJoin(AlgorithmNames(), ", "), ")"));
  }
  return (*factory)(context);
}

absl::Status RegisterAlgorithm(const std::string& name,
                               AlgorithmFactory factory) {
  return Registry::Get().Add(name, std::move(factory));
}

std::vector<std::string> AlgorithmNames() { return Registry::Get().Names(); }

}  // namespace vernier::algorithms
