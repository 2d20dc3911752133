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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
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
  // The study's whole spec, for algorithms that need more than the fields
  // above: `external` reads algorithm.endpoint from it and forwards it to its
  // plug-in (which may use, say, trials.max). Built-in algorithms ignore it,
  // so callers that build only those may leave it empty.
  v1::StudySpec spec;
  // Told the duration of each fit of a model's hyperparameters (gp's
  // marginal-likelihood fits), for the server's metrics. Called on the
  // thread that runs Suggest; may be empty.
  std::function<void(absl::Duration)> on_model_fit;
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
  //
  // Values in `history`: a trial's `objective` is set when it SUCCEEDED (its
  // final value), when it is INFEASIBLE (not finite), and when the study's
  // early-stopping rule stopped it (STOPPED with `early_stop` set): then it
  // is the best intermediate value the trial reached by early_stop.step, a
  // value at a partial budget. Other trials (FAILED, PENDING, RUNNING,
  // STOPPED by the study's end) have none. An algorithm that learns from
  // values learns from every trial with a finite objective, early-stopped
  // ones included, at the value they reached: the rule judged them worse
  // than their peers at that step, and their partial value steers a model
  // away from them as the rule intended. Grid and random search read no
  // values: to them every trial, stopped or not, is an assignment used.
  virtual absl::StatusOr<std::vector<Assignment>> Suggest(
      const std::vector<v1::Trial>& history, int count) = 0;
};

// Builds an algorithm, or INVALID_ARGUMENT naming the offending setting
// ("settings.foo: unknown setting").
using AlgorithmFactory =
    std::function<absl::StatusOr<std::unique_ptr<Algorithm>>(
        const AlgorithmContext& context)>;

// Builds the algorithm registered as `name`: the built-ins "gp", "grid" and
// "random", plus any added by RegisterAlgorithm. NOT_FOUND for an unknown
// name, listing the known ones; otherwise what the factory returns.
// Thread-safe; the factory runs outside the registry's lock.
absl::StatusOr<std::unique_ptr<Algorithm>> CreateAlgorithm(
    const std::string& name, const AlgorithmContext& context);

// Adds an algorithm that lives outside this module (such as `external`, the
// plug-in adapter, which a binary registers at start-up) so that
// CreateAlgorithm, AlgorithmNames and the study validator know it. A name is
// never replaced: ALREADY_EXISTS when `name` is taken (built-ins included),
// and the registry is left as it was. INVALID_ARGUMENT for an empty name or
// factory. Thread-safe; registrations last for the life of the process.
absl::Status RegisterAlgorithm(const std::string& name,
                               AlgorithmFactory factory);

// The registered names, sorted. Thread-safe.
std::vector<std::string> AlgorithmNames();

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_ALGORITHM_H_
