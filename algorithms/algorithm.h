// Algorithm: proposes the next assignments of a study from its history.
//
// An algorithm is chosen by name at run time from the registry; its settings
// come from the study spec. It knows nothing of processes, storage or RPC: it
// sees the search space, the objective and the trials so far.
#ifndef VERNIER_ALGORITHMS_ALGORITHM_H_
#define VERNIER_ALGORITHMS_ALGORITHM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "algorithms/search_space.h"
#include "google/protobuf/struct.pb.h"
#include "vernier/v1/study.pb.h"

namespace vernier::algorithms {

// What an algorithm is built from.
struct AlgorithmContext {
  SearchSpace space;
  v1::ObjectiveSpec objective;
  // The study's seed in force (v1::Study::seed).
  uint64_t seed = 0;
  // True when the user gave the seed; grid search shuffles only then.
  bool seed_given = false;
  google::protobuf::Struct settings;
};

class Algorithm {
 public:
  Algorithm() = default;
  virtual ~Algorithm() = default;
  Algorithm(const Algorithm&) = delete;
  Algorithm& operator=(const Algorithm&) = delete;

  // Up to `count` new assignments, each valid in the space. `history` holds
  // every trial of the study so far, in any state: finished ones to learn
  // from, pending and running ones so a batch spreads out. Fewer than `count`
  // (possibly none) when the space has nothing new left. Deterministic for a
  // given context and history. Not required to be thread-safe: the caller
  // serialises calls on one instance.
  virtual absl::StatusOr<std::vector<Assignment>> Suggest(
      const std::vector<v1::Trial>& history, int count) = 0;
};

// Builds an algorithm, or INVALID_ARGUMENT naming the offending setting
// ("settings.foo: unknown setting").
using AlgorithmFactory =
    std::function<absl::StatusOr<std::unique_ptr<Algorithm>>(
        const AlgorithmContext& context)>;

// The algorithms known by name: "grid", "random".
// NOT_FOUND for an unknown name, listing the known ones.
absl::StatusOr<std::unique_ptr<Algorithm>> CreateAlgorithm(
    const std::string& name, const AlgorithmContext& context);

// The registered names, sorted.
std::vector<std::string> AlgorithmNames();

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_ALGORITHM_H_
