#include "algorithms/grid.h"

#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "algorithms/lattice.h"
#include "algorithms/rng.h"
#include "algorithms/settings.h"

namespace vernier::algorithms {
namespace {

// Thread ownership: none; the caller serialises calls (see Algorithm).
class GridSearch final : public Algorithm {
 public:
  // With `seed`, the lattice is walked in a shuffled order; without, in its
  // own (lexicographic) order.
  GridSearch(Lattice lattice, std::optional<uint64_t> seed)
      : lattice_(std::move(lattice)), seed_(seed) {}

  absl::StatusOr<std::vector<Assignment>> Suggest(
      const std::vector<v1::Trial>& history, int count) override {
    if (count < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot suggest ", count, " trials"));
    }
    std::vector<Assignment> suggestions;
    if (count == 0) return suggestions;
    const int64_t size = lattice_.size();
    // Shuffled on first use, so that building a grid only to validate a spec
    // costs nothing.
    if (seed_.has_value() && order_.empty()) {
      order_.resize(size);
      std::iota(order_.begin(), order_.end(), 0u);
      std::mt19937_64 engine(*seed_);
      Shuffle(order_, engine);
    }
    std::vector<bool> used(size);
    for (const v1::Trial& trial : history) {
      if (std::optional<int64_t> index = lattice_.IndexOf(trial.parameters())) {
        used[*index] = true;
      }
    }
    for (int64_t position = 0; position < size; ++position) {
      const int64_t index = order_.empty() ? position : order_[position];
      if (used[index]) continue;
      suggestions.push_back(lattice_.At(index));
      if (static_cast<int>(suggestions.size()) == count) break;
    }
    return suggestions;
  }

 private:
  const Lattice lattice_;
  const std::optional<uint64_t> seed_;
  // A permutation of the lattice's indices (at most kMaxGridPoints, so they
  // fit in 32 bits) when seeded; empty until the first Suggest.
  std::vector<uint32_t> order_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Algorithm>> CreateGridSearch(
    const AlgorithmContext& context) {
  if (absl::Status status = CheckKnownSettings("grid", context.settings, {});
      !status.ok()) {
    return status;
  }
  const SearchSpace& space = context.space;
  std::vector<Lattice::Dimension> dimensions;
  int64_t size = 1;
  for (int i = 0; i < space.dimensions(); ++i) {
    const v1::ParameterSpec& p = space.parameters()[i];
    if (p.type() == v1::ParameterSpec::INT && !p.has_grid_points()) {
      // Every integer: held as a range, so that a range too long for a grid
      // is reported with the grid's size rather than materialised.
      dimensions.push_back(Lattice::Integers(
          p.name(), p.min(), static_cast<int64_t>(p.max() - p.min()) + 1));
    } else {
      absl::StatusOr<std::vector<google::protobuf::Value>> values =
          space.GridValues(i);
      if (!values.ok()) return values.status();
      dimensions.push_back(Lattice::FromValues(p.name(), *values));
    }
    if (__builtin_mul_overflow(size, Lattice::DimensionSize(dimensions.back()),
                               &size)) {
      size = std::numeric_limits<int64_t>::max();
    }
  }
  if (size > kMaxGridPoints) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the grid has ",
        size == std::numeric_limits<int64_t>::max() ? "over " : "", size,
        " points, more than grid search takes (", kMaxGridPoints,
        "); use fewer grid_points or random search"));
  }
  return std::make_unique<GridSearch>(
      Lattice(std::move(dimensions)),
      context.seed_given ? std::optional<uint64_t>(context.seed)
                         : std::nullopt);
}

}  // namespace vernier::algorithms
