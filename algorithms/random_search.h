// Random search: points drawn uniformly in the unit cube and decoded by
// SearchSpace::FromUnit, so log-scale parameters are log-uniform and each
// value of a list is equally likely.
//
// The stream: a std::mt19937_64 seeded with
//   SplitMix64(SplitMix64(SplitMix64(seed) ^ N) ^ H)
// where N is the largest trial number in the history (0 when empty) and H the
// history's size; each coordinate is UniformDouble (53 bits, algorithms/
// rng.h). So the same seed and history give the same suggestions anywhere,
// and each new batch (whose history has grown) draws afresh.
//
// Never suggests an assignment already in the history (any state) or earlier
// in the same batch:
// - a finite space (no DOUBLE) of at most kRandomEnumerationLimit points is
//   enumerated: the points not yet used are drawn without replacement, each
//   with the probability the cube gives it (Efraimidis-Spirakis keys, one
//   UniformDoubleOpenZero per unused point in lattice order), so it returns
//   exactly the remaining points once they are fewer than asked;
// - otherwise draws are rejected while they repeat, up to kRandomMaxAttempts
// per
//   suggestion; if that many draws in a row repeat, the batch ends short.
#ifndef VERNIER_ALGORITHMS_RANDOM_SEARCH_H_
#define VERNIER_ALGORITHMS_RANDOM_SEARCH_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"

namespace vernier::algorithms {

// Finite spaces up to this many points are enumerated.
inline constexpr int64_t kRandomEnumerationLimit = 100'000;
// Consecutive repeated draws after which a batch ends short.
inline constexpr int kRandomMaxAttempts = 1000;

// INVALID_ARGUMENT for any setting.
absl::StatusOr<std::unique_ptr<Algorithm>> CreateRandomSearch(
    const AlgorithmContext& context);

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_RANDOM_SEARCH_H_
