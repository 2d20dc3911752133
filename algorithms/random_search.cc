#include "algorithms/random_search.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "algorithms/lattice.h"
#include "algorithms/rng.h"
#include "algorithms/settings.h"
#include "spdlog/spdlog.h"

namespace vernier::algorithms {
namespace {

using v1::ParameterSpec;

std::mt19937_64 StreamFor(uint64_t seed,
                          const std::vector<v1::Trial>& history) {
  int64_t largest_number = 0;
  for (const v1::Trial& trial : history) {
    largest_number = std::max<int64_t>(largest_number, trial.number());
  }
  const uint64_t mixed = SplitMix64(
      SplitMix64(SplitMix64(seed) ^ static_cast<uint64_t>(largest_number)) ^
      static_cast<uint64_t>(history.size()));
  return std::mt19937_64(mixed);
}

// Every value of one parameter of a finite space, and the share of the unit
// interval that FromUnit maps to each (up to a common factor).
struct AllValues {
  Lattice::Dimension dimension;
  std::vector<double> weights;
};

AllValues AllValuesOf(const ParameterSpec& p) {
  AllValues all;
  switch (p.type()) {
    case ParameterSpec::CATEGORICAL:
      all.dimension = Lattice::Strings(
          p.name(), {p.categories().begin(), p.categories().end()});
      break;
    case ParameterSpec::DISCRETE:
      all.dimension =
          Lattice::Numbers(p.name(), {p.values().begin(), p.values().end()});
      break;
    default:
      all.dimension = Lattice::Integers(
          p.name(), p.min(), static_cast<int64_t>(p.max() - p.min()) + 1);
      // As in SearchSpace, integer k owns [k - 0.5, k + 0.5) before the scale
      // applies; on a log scale its share is log((k + 0.5) / (k - 0.5)).
      if (p.scale() == ParameterSpec::LOG) {
        // Counted in integers: near 2^53, ++k on a double stops moving.
        const int64_t span = static_cast<int64_t>(p.max() - p.min());
        for (int64_t i = 0; i <= span; ++i) {
          const double k = p.min() + static_cast<double>(i);
          all.weights.push_back(std::log1p(1.0 / (k - 0.5)));
        }
      }
      break;
  }
  if (all.weights.empty()) {
    all.weights.assign(Lattice::DimensionSize(all.dimension), 1.0);
  }
  return all;
}

class RandomSearch final : public Algorithm {
 public:
  RandomSearch(SearchSpace space, uint64_t seed)
      : space_(std::move(space)),
        seed_(seed),
        cardinality_(space_.Cardinality()) {}

  absl::StatusOr<std::vector<Assignment>> Suggest(
      const std::vector<v1::Trial>& history, int count) override {
    if (count < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot suggest ", count, " trials"));
    }
    if (count == 0) return std::vector<Assignment>();
    std::mt19937_64 engine = StreamFor(seed_, history);
    if (cardinality_.has_value() && *cardinality_ <= kRandomEnumerationLimit) {
      return SuggestByEnumeration(history, count, engine);
    }
    return SuggestByRejection(history, count, engine);
  }

 private:
  std::vector<Assignment> SuggestByEnumeration(
      const std::vector<v1::Trial>& history, int count,
      std::mt19937_64& engine) const {
    std::vector<Lattice::Dimension> dimensions;
    std::vector<std::vector<double>> weights;
    for (const ParameterSpec& p : space_.parameters()) {
      AllValues all = AllValuesOf(p);
      dimensions.push_back(std::move(all.dimension));
      weights.push_back(std::move(all.weights));
    }
    const Lattice lattice(std::move(dimensions));
    std::vector<bool> used(lattice.size());
    for (const v1::Trial& trial : history) {
      if (std::optional<int64_t> index = lattice.IndexOf(trial.parameters())) {
        used[*index] = true;
      }
    }
    // Efraimidis-Spirakis: the largest keys log(u)/weight form a weighted
    // sample without replacement, in the order successive draws would give.
    std::vector<std::pair<double, int64_t>> keyed;
    for (int64_t index = 0; index < lattice.size(); ++index) {
      if (used[index]) continue;
      double weight = 1;
      const std::vector<int64_t> digits = lattice.Digits(index);
      for (size_t i = 0; i < digits.size(); ++i) {
        weight *= weights[i][digits[i]];
      }
      keyed.emplace_back(std::log(UniformDoubleOpenZero(engine)) / weight,
                         index);
    }
    const size_t take = std::min(keyed.size(), static_cast<size_t>(count));
    std::partial_sort(keyed.begin(), keyed.begin() + take, keyed.end(),
                      [](const auto& a, const auto& b) {
                        return a.first > b.first ||
                               (a.first == b.first && a.second < b.second);
                      });
    std::vector<Assignment> suggestions;
    suggestions.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      suggestions.push_back(lattice.At(keyed[i].second));
    }
    return suggestions;
  }

  std::vector<Assignment> SuggestByRejection(
      const std::vector<v1::Trial>& history, int count,
      std::mt19937_64& engine) const {
    absl::flat_hash_set<std::string> used;
    for (const v1::Trial& trial : history) {
      used.insert(space_.Key(trial.parameters()));
    }
    std::vector<Assignment> suggestions;
    std::vector<double> point(space_.dimensions());
    while (static_cast<int>(suggestions.size()) < count) {
      bool found = false;
      for (int attempt = 0; attempt < kRandomMaxAttempts && !found; ++attempt) {
        for (double& u : point) u = UniformDouble(engine);
        Assignment assignment = space_.FromUnit(point);
        if (used.insert(space_.Key(assignment)).second) {
          suggestions.push_back(std::move(assignment));
          found = true;
        }
      }
      if (!found) {
        spdlog::warn(
            "random search: {} draws in a row repeated earlier trials; "
            "suggesting {} of {}",
            kRandomMaxAttempts, suggestions.size(), count);
        break;
      }
    }
    return suggestions;
  }

  const SearchSpace space_;
  const uint64_t seed_;
  const std::optional<int64_t> cardinality_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Algorithm>> CreateRandomSearch(
    const AlgorithmContext& context) {
  if (absl::Status status = CheckKnownSettings("random", context.settings, {});
      !status.ok()) {
    return status;
  }
  return std::make_unique<RandomSearch>(context.space, context.seed);
}

}  // namespace vernier::algorithms
