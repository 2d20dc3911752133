// Grid search: every point of the grid once across the whole study.
//
// The grid is the Cartesian product of SearchSpace::GridValues of each
// parameter. Points already in the history (in any state) are never
// suggested again; once every point has been suggested, Suggest returns
// nothing. Order: lexicographic in the spec's parameter order (the first
// parameter changes slowest) when no seed was given; with a seed, a
// Fisher-Yates shuffle of that order driven by std::mt19937_64(seed)
// (see algorithms/rng.h), the same on every platform.
#ifndef VERNIER_ALGORITHMS_GRID_H_
#define VERNIER_ALGORITHMS_GRID_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"

namespace vernier::algorithms {

// Grids larger than this are refused.
inline constexpr int64_t kMaxGridPoints = 10'000'000;

// INVALID_ARGUMENT for any setting, for a DOUBLE without grid_points, or for
// a grid of more than kMaxGridPoints points (the message says how many).
absl::StatusOr<std::unique_ptr<Algorithm>> CreateGridSearch(
    const AlgorithmContext& context);

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_GRID_H_
