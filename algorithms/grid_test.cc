#include "algorithms/grid.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::IntParam;
using testing::MakeSpace;
using testing::Num;
using testing::Str;
using testing::TrialOf;

AlgorithmContext Context(std::vector<v1::ParameterSpec> parameters,
                         std::optional<uint64_t> seed = {}) {
  return AlgorithmContext{.space = MakeSpace(std::move(parameters)),
                          .objective = {},
                          .seed = seed.value_or(12345),
                          .seed_given = seed.has_value(),
                          .settings = {}};
}

std::unique_ptr<Algorithm> Grid(const AlgorithmContext& context) {
  absl::StatusOr<std::unique_ptr<Algorithm>> grid =
      CreateAlgorithm("grid", context);
  EXPECT_TRUE(grid.ok()) << grid.status();
  return grid.ok() ? *std::move(grid) : nullptr;
}

// Asks for `batch` at a time, recording each suggestion as a trial, until
// the grid has nothing left (or, should it never stop, kMaxKeys keys);
// returns the keys in suggestion order.
std::vector<std::string> DrainKeys(const AlgorithmContext& context, int batch) {
  std::unique_ptr<Algorithm> grid = Grid(context);
  std::vector<v1::Trial> history;
  std::vector<std::string> keys;
  constexpr size_t kMaxKeys = 10000;
  while (keys.size() < kMaxKeys) {
    absl::StatusOr<std::vector<Assignment>> suggestions =
        grid->Suggest(history, batch);
    EXPECT_TRUE(suggestions.ok()) << suggestions.status();
    if (!suggestions.ok() || suggestions->empty()) break;
    for (const Assignment& a : *suggestions) {
      keys.push_back(context.space.Key(a));
      history.push_back(
          TrialOf(static_cast<int>(history.size()) + 1, a,
                  history.size() % 2 ? v1::Trial::FAILED : v1::Trial::RUNNING));
    }
  }
  return keys;
}

TEST(GridTest, UnseededGridIsLexicographicFirstParameterSlowest) {
  const AlgorithmContext context =
      Context({IntParam("n", 1, 3), CategoricalParam("c", {"a", "b"})});
  std::unique_ptr<Algorithm> grid = Grid(context);
  absl::StatusOr<std::vector<Assignment>> all = grid->Suggest({}, 100);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const Assignment& a : *all) keys.push_back(context.space.Key(a));
  EXPECT_THAT(keys, ElementsAre("n=1;c=\"a\"", "n=1;c=\"b\"", "n=2;c=\"a\"",
                                "n=2;c=\"b\"", "n=3;c=\"a\"", "n=3;c=\"b\""));
}

TEST(GridTest, VisitsEveryPointExactlyOnceAcrossBatches) {
  const AlgorithmContext context =
      Context({IntParam("n", 1, 4), DiscreteParam("d", {0.5, 1.5, 2.5}),
               DoubleParam("lr", 1e-4, 1e-1, true, 4),
               CategoricalParam("c", {"a", "b"})});
  const std::vector<std::string> keys = DrainKeys(context, 5);
  EXPECT_EQ(keys.size(), 4u * 3 * 4 * 2);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(),
            keys.size());
}

TEST(GridTest, SkipsPointsAlreadyInTheHistoryInAnyState) {
  const AlgorithmContext context =
      Context({IntParam("n", 1, 3), CategoricalParam("c", {"a", "b"})});
  std::unique_ptr<Algorithm> grid = Grid(context);
  const std::vector<v1::Trial> history = {
      TrialOf(1, Assign({{"n", Num(1)}, {"c", Str("a")}}), v1::Trial::FAILED),
      TrialOf(2, Assign({{"n", Num(2)}, {"c", Str("b")}}), v1::Trial::PENDING),
      // Not a grid point: takes nothing from the grid.
      TrialOf(3, Assign({{"n", Num(7)}, {"c", Str("a")}})),
  };
  absl::StatusOr<std::vector<Assignment>> rest = grid->Suggest(history, 100);
  ASSERT_TRUE(rest.ok());
  std::vector<std::string> keys;
  for (const Assignment& a : *rest) keys.push_back(context.space.Key(a));
  EXPECT_THAT(keys, ElementsAre("n=1;c=\"b\"", "n=2;c=\"a\"", "n=3;c=\"a\"",
                                "n=3;c=\"b\""));
}

TEST(GridTest, ReturnsFewerThenNoneWhenUsedUp) {
  const AlgorithmContext context =
      Context({CategoricalParam("c", {"a", "b", "c"})});
  std::unique_ptr<Algorithm> grid = Grid(context);
  std::vector<v1::Trial> history = {TrialOf(1, Assign({{"c", Str("b")}}))};
  absl::StatusOr<std::vector<Assignment>> last = grid->Suggest(history, 5);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 2u);
  for (const Assignment& a : *last) history.push_back(TrialOf(2, a));
  absl::StatusOr<std::vector<Assignment>> none = grid->Suggest(history, 5);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(GridTest, SeededShuffleIsReproducibleAndDiffersFromTheUnseededOrder) {
  const std::vector<v1::ParameterSpec> parameters = {
      IntParam("n", 1, 10), CategoricalParam("c", {"a", "b", "c"})};
  const std::vector<std::string> lexicographic =
      DrainKeys(Context(parameters), 4);
  const std::vector<std::string> seeded = DrainKeys(Context(parameters, 7), 4);
  EXPECT_EQ(seeded, DrainKeys(Context(parameters, 7), 4));
  EXPECT_EQ(seeded, DrainKeys(Context(parameters, 7), 30));
  EXPECT_NE(seeded, lexicographic);
  EXPECT_NE(seeded, DrainKeys(Context(parameters, 8), 4));
  // Still a permutation of the whole grid.
  EXPECT_EQ(
      std::multiset<std::string>(seeded.begin(), seeded.end()),
      std::multiset<std::string>(lexicographic.begin(), lexicographic.end()));
}

TEST(GridTest, RefusesGridsOverTenMillionPointsSayingHowMany) {
  const absl::Status status =
      CreateAlgorithm("grid",
                      Context({IntParam("a", 1, 5000), IntParam("b", 1, 2001)}))
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("10005000 points"));

  // Exactly at the limit it works, without enumerating the grid.
  std::unique_ptr<Algorithm> grid =
      Grid(Context({IntParam("a", 1, 5000), IntParam("b", 1, 2000)}));
  ASSERT_NE(grid, nullptr);
  absl::StatusOr<std::vector<Assignment>> first = grid->Suggest({}, 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[1].at("b").number_value(), 2);

  const absl::Status huge =
      CreateAlgorithm("grid", Context({IntParam("a", 1, 1e9)})).status();
  EXPECT_EQ(huge.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(huge.message(), HasSubstr("1000000000"));
}

TEST(GridTest, RefusesADoubleWithoutGridPoints) {
  const absl::Status status =
      CreateAlgorithm("grid", Context({IntParam("n", 1, 3),
                                       DoubleParam("lr", 1e-4, 1, true)}))
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'lr'"));
  EXPECT_THAT(status.message(), HasSubstr("grid_points"));
}

TEST(GridTest, RefusesAnySetting) {
  AlgorithmContext context = Context({IntParam("n", 1, 3)});
  (*context.settings.mutable_fields())["shuffle"].set_bool_value(true);
  const absl::Status status = CreateAlgorithm("grid", context).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "settings.shuffle: unknown setting for algorithm 'grid'");
}

TEST(GridTest, RejectsANegativeCount) {
  std::unique_ptr<Algorithm> grid = Grid(Context({IntParam("n", 1, 3)}));
  EXPECT_EQ(grid->Suggest({}, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<Assignment>> none = grid->Suggest({}, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(RegistryTest, KnowsTheBuiltInsByName) {
  EXPECT_THAT(AlgorithmNames(), ElementsAre("gp", "grid", "random"));
  const absl::Status status =
      CreateAlgorithm("bayes", Context({IntParam("n", 1, 3)})).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            "unknown algorithm 'bayes' (known: gp, grid, random)");
}

}  // namespace
}  // namespace vernier::algorithms
