#include "algorithms/random_search.h"

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/test_spaces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::algorithms {
namespace {

using testing::Assign;
using testing::CategoricalParam;
using testing::DiscreteParam;
using testing::DoubleParam;
using ::testing::HasSubstr;
using testing::IntParam;
using testing::MakeSpace;
using testing::Num;
using testing::Str;
using testing::TrialOf;

AlgorithmContext Context(std::vector<v1::ParameterSpec> parameters,
                         uint64_t seed = 2024) {
  return AlgorithmContext{.space = MakeSpace(std::move(parameters)),
                          .objective = {},
                          .seed = seed,
                          .seed_given = true,
                          .settings = {}};
}

std::vector<Assignment> SuggestOnce(const AlgorithmContext& context,
                                    const std::vector<v1::Trial>& history,
                                    int count) {
  absl::StatusOr<std::unique_ptr<Algorithm>> random =
      CreateAlgorithm("random", context);
  EXPECT_TRUE(random.ok()) << random.status();
  if (!random.ok()) return {};
  absl::StatusOr<std::vector<Assignment>> suggestions =
      (*random)->Suggest(history, count);
  EXPECT_TRUE(suggestions.ok()) << suggestions.status();
  return suggestions.ok() ? *std::move(suggestions) : std::vector<Assignment>();
}

std::vector<std::string> Keys(const SearchSpace& space,
                              const std::vector<Assignment>& assignments) {
  std::vector<std::string> keys;
  for (const Assignment& a : assignments) keys.push_back(space.Key(a));
  return keys;
}

std::vector<v1::ParameterSpec> MixedSpace() {
  return {DoubleParam("lr", 1e-5, 1e-1, true),
          DoubleParam("momentum", 0, 1),
          IntParam("layers", 1, 12),
          IntParam("width", 16, 4096, true),
          DiscreteParam("batch", {16, 32, 64, 128}),
          CategoricalParam("opt", {"adam", "sgd", "rmsprop"})};
}

TEST(RandomSearchTest, SameSeedAndHistoryGiveTheSameSuggestions) {
  const std::vector<v1::Trial> history = {TrialOf(
      1, MakeSpace(MixedSpace()).FromUnit({0.1, 0.2, 0.3, 0.4, 0.5, 0.6}))};
  const AlgorithmContext context = Context(MixedSpace(), 99);
  const std::vector<std::string> first =
      Keys(context.space, SuggestOnce(context, history, 8));
  ASSERT_EQ(first.size(), 8u);
  EXPECT_EQ(first, Keys(context.space, SuggestOnce(context, history, 8)));

  const AlgorithmContext other_seed = Context(MixedSpace(), 100);
  EXPECT_NE(first, Keys(context.space, SuggestOnce(other_seed, history, 8)));
  // A grown history starts a new stream, so the next batch is not a replay.
  std::vector<v1::Trial> grown = history;
  grown.push_back(TrialOf(
      2, MakeSpace(MixedSpace()).FromUnit({0.9, 0.9, 0.9, 0.9, 0.9, 0.9})));
  EXPECT_NE(first, Keys(context.space, SuggestOnce(context, grown, 8)));
}

TEST(RandomSearchTest, EverySuggestionIsValidAndNew) {
  const AlgorithmContext context = Context(MixedSpace());
  const std::vector<Assignment> suggestions = SuggestOnce(context, {}, 500);
  ASSERT_EQ(suggestions.size(), 500u);
  std::set<std::string> keys;
  for (const Assignment& a : suggestions) {
    EXPECT_TRUE(context.space.ToUnit(a).ok()) << context.space.Key(a);
    keys.insert(context.space.Key(a));
  }
  EXPECT_EQ(keys.size(), suggestions.size());
}

TEST(RandomSearchTest, FiniteSpaceNeverRepeatsAndExhaustsExactly) {
  // 3 x 2 x 2 = 12 points.
  const AlgorithmContext context =
      Context({IntParam("a", 1, 3), IntParam("b", 0, 1),
               CategoricalParam("c", {"x", "y"})});
  std::vector<v1::Trial> history;
  std::set<std::string> seen;
  int asked = 0;
  while (asked < 20) {
    const std::vector<Assignment> batch = SuggestOnce(context, history, 5);
    asked += 5;
    for (const Assignment& a : batch) {
      EXPECT_TRUE(context.space.ToUnit(a).ok());
      EXPECT_TRUE(seen.insert(context.space.Key(a)).second)
          << "repeated " << context.space.Key(a);
      history.push_back(
          TrialOf(static_cast<int>(history.size()) + 1, a, v1::Trial::FAILED));
    }
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_TRUE(SuggestOnce(context, history, 5).empty());
}

TEST(RandomSearchTest, IntegersAtTheEdgeOfDoublePrecisionAreEnumerated) {
  // 2^53 - 1 and 2^53 on a log scale: counting them with ++ on a double
  // never passed 2^53 (a hang the search-space fuzzer found in the GP's
  // encoding, the same loop).
  const double top = 9007199254740992.0;
  const AlgorithmContext context = Context({IntParam("n", top - 1, top, true)});
  std::vector<v1::Trial> history;
  for (const Assignment& a : SuggestOnce(context, history, 5)) {
    history.push_back(
        TrialOf(static_cast<int>(history.size()) + 1, a, v1::Trial::FAILED));
  }
  EXPECT_EQ(history.size(), 2u);
}

TEST(RandomSearchTest, LargeFiniteSpaceNeverRepeats) {
  // 160000 points, so drawn by rejection rather than enumerated; on log
  // scales the small integers are drawn so often that 500 independent draws
  // would repeat about 170 pairs.
  const AlgorithmContext context =
      Context({IntParam("a", 1, 400, true), IntParam("b", 1, 400, true)});
  std::vector<v1::Trial> history;
  std::set<std::string> seen;
  for (int batch = 0; batch < 20; ++batch) {
    for (const Assignment& a : SuggestOnce(context, history, 25)) {
      EXPECT_TRUE(seen.insert(context.space.Key(a)).second);
      history.push_back(TrialOf(static_cast<int>(history.size()) + 1, a));
    }
  }
  EXPECT_EQ(seen.size(), 500u);
}

TEST(RandomSearchTest, LogDoubleIsUniformOverDecades) {
  const AlgorithmContext context =
      Context({DoubleParam("x", 1e-3, 1e3, true)}, 7);
  const std::vector<Assignment> samples = SuggestOnce(context, {}, 4000);
  ASSERT_EQ(samples.size(), 4000u);
  std::vector<int> counts(6);
  for (const Assignment& a : samples) {
    const double x = a.at("x").number_value();
    ASSERT_GE(x, 1e-3);
    ASSERT_LE(x, 1e3);
    ++counts[std::clamp(static_cast<int>(std::floor(std::log10(x))) + 3, 0, 5)];
  }
  const double expected = 4000.0 / 6;
  double chi_square = 0;
  for (int count : counts) {
    chi_square += (count - expected) * (count - expected) / expected;
  }
  // 5 degrees of freedom: P(chi^2 > 20.5) = 0.001. A linear draw would put
  // nearly everything in the top decade (chi^2 in the thousands).
  EXPECT_LT(chi_square, 20.5) << ::testing::PrintToString(counts);
}

TEST(RandomSearchTest, LinearDoubleIsUniform) {
  const AlgorithmContext context = Context({DoubleParam("x", 2, 6)}, 11);
  const std::vector<Assignment> samples = SuggestOnce(context, {}, 4000);
  ASSERT_EQ(samples.size(), 4000u);
  std::vector<int> counts(10);
  double sum = 0;
  for (const Assignment& a : samples) {
    const double x = a.at("x").number_value();
    sum += x;
    ++counts[std::min(static_cast<int>((x - 2) / 0.4), 9)];
  }
  // Standard error of the mean: (4 / sqrt(12)) / sqrt(4000) = 0.018.
  EXPECT_NEAR(sum / 4000, 4, 0.1);
  double chi_square = 0;
  for (int count : counts) {
    chi_square += (count - 400.0) * (count - 400.0) / 400.0;
  }
  // 9 degrees of freedom: P(chi^2 > 27.9) = 0.001.
  EXPECT_LT(chi_square, 27.9) << ::testing::PrintToString(counts);
}

TEST(RandomSearchTest, EnumeratedLogIntKeepsTheLogShares) {
  // 100 points, so drawn by enumeration; integer k must still get its share
  // of the cube, log((k + 0.5) / (k - 0.5)) / log(100.5 / 0.5).
  const AlgorithmContext context = Context({IntParam("x", 1, 100, true)}, 5);
  const int kDraws = 4000;
  int ones = 0;
  int tens_and_more = 0;
  // One draw per call, each with a different history (one trial outside the
  // space, numbered differently) so that each call has its own stream.
  for (int i = 0; i < kDraws; ++i) {
    const std::vector<Assignment> draw =
        SuggestOnce(context, {TrialOf(i + 1, Assign({{"x", Num(1000)}}))}, 1);
    ASSERT_EQ(draw.size(), 1u);
    const double x = draw[0].at("x").number_value();
    ones += x == 1;
    tens_and_more += x >= 10;
  }
  const double span = std::log(100.5 / 0.5);
  EXPECT_NEAR(ones / static_cast<double>(kDraws), std::log(3) / span, 0.025);
  EXPECT_NEAR(tens_and_more / static_cast<double>(kDraws),
              std::log(100.5 / 9.5) / span, 0.03);
}

TEST(RandomSearchTest, RefusesAnySetting) {
  AlgorithmContext context = Context({IntParam("n", 1, 3)});
  (*context.settings.mutable_fields())["samples"].set_number_value(3);
  const absl::Status status = CreateAlgorithm("random", context).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "settings.samples: unknown setting for algorithm 'random'");
}

}  // namespace
}  // namespace vernier::algorithms
