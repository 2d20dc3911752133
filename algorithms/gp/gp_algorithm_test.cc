#include "algorithms/gp/gp_algorithm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "algorithms/algorithm.h"
#include "algorithms/test_spaces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::algorithms {
namespace {

using ::testing::HasSubstr;
using testing::CategoricalParam;
using testing::DiscreteParam;
using testing::DoubleParam;
using testing::IntParam;
using testing::MakeSpace;
using testing::Num;
using testing::Str;

AlgorithmContext Context(SearchSpace space, uint64_t seed = 7,
                         google::protobuf::Struct settings = {}) {
  AlgorithmContext context{.space = std::move(space), .seed = seed};
  context.objective.set_goal(v1::ObjectiveSpec::MINIMIZE);
  context.settings = std::move(settings);
  return context;
}

SearchSpace MixedSpace() {
  return MakeSpace({DoubleParam("lr", 1e-4, 1, /*log=*/true),
                    DoubleParam("x", -2, 2), IntParam("layers", 1, 6),
                    IntParam("width", 8, 1024, /*log=*/true),
                    DiscreteParam("dropout", {0, 0.1, 0.25, 0.5}),
                    CategoricalParam("opt", {"sgd", "adam", "rmsprop"})});
}

// A smooth objective of the mixed space with its minimum inside.
double MixedObjective(const Assignment& a) {
  const double lr = std::log10(a.at("lr").number_value());
  const double x = a.at("x").number_value();
  const double layers = a.at("layers").number_value();
  const double width = std::log2(a.at("width").number_value());
  const double dropout = a.at("dropout").number_value();
  const std::string& opt = a.at("opt").string_value();
  return std::pow(lr + 2.5, 2) + std::pow(x - 0.7, 2) +
         0.1 * std::pow(layers - 3, 2) + 0.05 * std::pow(width - 7, 2) +
         std::abs(dropout - 0.1) + (opt == "adam" ? 0 : 0.5);
}

v1::Trial Completed(int number, const Assignment& a, double objective) {
  v1::Trial trial = testing::TrialOf(number, a);
  trial.set_objective(objective);
  trial.mutable_end_time()->set_seconds(1000 + number);
  return trial;
}

// Runs `trials` sequential suggestions against MixedObjective.
std::vector<v1::Trial> RunSequentially(Algorithm& algorithm, int trials) {
  std::vector<v1::Trial> history;
  for (int i = 1; i <= trials; ++i) {
    absl::StatusOr<std::vector<Assignment>> next = algorithm.Suggest(history, 1);
    EXPECT_TRUE(next.ok()) << next.status();
    if (!next.ok() || next->size() != 1) break;
    history.push_back(Completed(i, next->front(), MixedObjective(next->front())));
  }
  return history;
}

std::vector<std::string> Keys(const SearchSpace& space,
                              const std::vector<Assignment>& assignments) {
  std::vector<std::string> keys;
  for (const Assignment& a : assignments) keys.push_back(space.Key(a));
  return keys;
}

TEST(GpAlgorithmTest, IsRegisteredAsGp) {
  EXPECT_THAT(AlgorithmNames(), ::testing::Contains("gp"));
  EXPECT_TRUE(CreateAlgorithm("gp", Context(MixedSpace())).ok());
}

TEST(GpAlgorithmTest, TellsEachHyperparameterFitOnce) {
  // 20 sequential trials: the 14 of the design need no model. The first
  // model (14 results) is warm-started along the refit schedule from its
  // anchor, 10: fits at 10, 11, 12, 13 and 14. Each later trial refits once
  // (15 to 19), and a fit memoised for the same results is not made again.
  int fits = 0;
  AlgorithmContext context = Context(MixedSpace());
  context.on_model_fit = [&fits](absl::Duration took) {
    EXPECT_GE(took, absl::ZeroDuration());
    ++fits;
  };
  auto algorithm = CreateGpAlgorithm(context);
  ASSERT_TRUE(algorithm.ok()) << algorithm.status();
  const std::vector<v1::Trial> history = RunSequentially(**algorithm, 20);
  ASSERT_EQ(history.size(), 20u);
  EXPECT_EQ(fits, 10);
  ASSERT_TRUE((*algorithm)->Suggest(history, 1).ok());
  EXPECT_EQ(fits, 11);
  ASSERT_TRUE((*algorithm)->Suggest(history, 1).ok());
  EXPECT_EQ(fits, 11);
}

TEST(GpAlgorithmTest, MixedSpaceSuggestionsAreValidNewAndImprove) {
  const SearchSpace space = MixedSpace();
  auto algorithm = CreateGpAlgorithm(Context(space));
  ASSERT_TRUE(algorithm.ok()) << algorithm.status();
  const std::vector<v1::Trial> history = RunSequentially(**algorithm, 40);
  ASSERT_EQ(history.size(), 40u);
  absl::flat_hash_set<std::string> keys;
  double best_design = 1e9, best = 1e9;
  for (const v1::Trial& trial : history) {
    EXPECT_TRUE(space.ToUnit(trial.parameters()).ok());
    EXPECT_TRUE(keys.insert(space.Key(trial.parameters())).second)
        << "trial " << trial.number() << " repeats an earlier one";
    if (trial.number() <= 14) best_design = std::min(best_design, trial.objective());
    best = std::min(best, trial.objective());
  }
  // The model's 26 trials improve a lot on the 14 of the design (the minimum
  // is 0; the design's best is far above it).
  EXPECT_LT(best, 0.5 * best_design);
  EXPECT_LT(best, 0.3);
}

TEST(GpAlgorithmTest, SeededRunIsReproducible) {
  auto a = CreateGpAlgorithm(Context(MixedSpace(), 11));
  auto b = CreateGpAlgorithm(Context(MixedSpace(), 11));
  ASSERT_TRUE(a.ok() && b.ok());
  const std::vector<v1::Trial> first = RunSequentially(**a, 20);
  const std::vector<v1::Trial> second = RunSequentially(**b, 20);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(MixedSpace().Key(first[i].parameters()),
              MixedSpace().Key(second[i].parameters()));
  }
}

TEST(GpAlgorithmTest, FreshInstanceContinuesAsTheOneThatSawTheHistoryGrow) {
  // What resume relies on: a new instance given the history suggests what
  // the instance that made it would suggest next. 60 trials cross the
  // every-trial refits and the first geometric one (55).
  const SearchSpace space = MixedSpace();
  auto grown = CreateGpAlgorithm(Context(space, 3));
  ASSERT_TRUE(grown.ok());
  const std::vector<v1::Trial> history = RunSequentially(**grown, 58);
  auto fresh = CreateGpAlgorithm(Context(space, 3));
  ASSERT_TRUE(fresh.ok());
  absl::StatusOr<std::vector<Assignment>> from_grown =
      (*grown)->Suggest(history, 3);
  absl::StatusOr<std::vector<Assignment>> from_fresh =
      (*fresh)->Suggest(history, 3);
  ASSERT_TRUE(from_grown.ok() && from_fresh.ok());
  EXPECT_EQ(Keys(space, *from_grown), Keys(space, *from_fresh));
}

TEST(GpAlgorithmTest, BatchOfEightIsDistinctAndSpreadOut) {
  const SearchSpace space =
      MakeSpace({DoubleParam("a", 0, 1), DoubleParam("b", 0, 1)});
  auto algorithm = CreateGpAlgorithm(Context(space));
  ASSERT_TRUE(algorithm.ok());
  // Ten observations of a bowl with its minimum at (0.3, 0.6).
  std::vector<v1::Trial> history;
  for (int i = 1; i <= 10; ++i) {
    absl::StatusOr<std::vector<Assignment>> next =
        (*algorithm)->Suggest(history, 1);
    ASSERT_TRUE(next.ok());
    const double a = next->front().at("a").number_value();
    const double b = next->front().at("b").number_value();
    history.push_back(Completed(
        i, next->front(), std::pow(a - 0.3, 2) + std::pow(b - 0.6, 2)));
  }
  absl::StatusOr<std::vector<Assignment>> batch =
      (*algorithm)->Suggest(history, 8);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 8u);
  double closest = 1e9;
  for (size_t i = 0; i < batch->size(); ++i) {
    for (size_t k = i + 1; k < batch->size(); ++k) {
      closest = std::min(
          closest,
          std::hypot((*batch)[i].at("a").number_value() -
                         (*batch)[k].at("a").number_value(),
                     (*batch)[i].at("b").number_value() -
                         (*batch)[k].at("b").number_value()));
    }
  }
  EXPECT_GT(closest, 0.02) << [&] {
    std::string points;
    for (const Assignment& a : *batch) {
      points += absl::StrCat(" (", a.at("a").number_value(), ", ",
                             a.at("b").number_value(), ")");
    }
    return points;
  }();
  // Running trials count the same way: a batch of one asked with the eight
  // still running avoids all eight.
  for (size_t i = 0; i < batch->size(); ++i) {
    v1::Trial running = testing::TrialOf(11 + i, (*batch)[i], v1::Trial::RUNNING);
    history.push_back(running);
  }
  absl::StatusOr<std::vector<Assignment>> ninth =
      (*algorithm)->Suggest(history, 1);
  ASSERT_TRUE(ninth.ok());
  ASSERT_EQ(ninth->size(), 1u);
  for (const Assignment& a : *batch) {
    EXPECT_GT(std::hypot(a.at("a").number_value() -
                             ninth->front().at("a").number_value(),
                         a.at("b").number_value() -
                             ninth->front().at("b").number_value()),
              0.02);
  }
}

TEST(GpAlgorithmTest, InfeasibleRegionIsAvoidedAndFailuresAreNotRepeated) {
  // x in [0, 1]; the objective falls towards x = 1, but every trial with
  // x > 0.7 is infeasible. The model must stop proposing that region.
  const SearchSpace space = MakeSpace({DoubleParam("x", 0, 1), DoubleParam("y", 0, 1)});
  auto algorithm = CreateGpAlgorithm(Context(space, 5));
  ASSERT_TRUE(algorithm.ok());
  std::vector<v1::Trial> history;
  int infeasible_late = 0;
  for (int i = 1; i <= 30; ++i) {
    absl::StatusOr<std::vector<Assignment>> next =
        (*algorithm)->Suggest(history, 1);
    ASSERT_TRUE(next.ok());
    const double x = next->front().at("x").number_value();
    const double y = next->front().at("y").number_value();
    v1::Trial trial = Completed(i, next->front(), -x + 0.1 * y * y);
    if (x > 0.7) {
      trial.set_state(v1::Trial::INFEASIBLE);
      trial.clear_objective();
      if (i > 20) ++infeasible_late;
    }
    history.push_back(trial);
  }
  EXPECT_LE(infeasible_late, 3);
  // A failed trial's exact assignment is never proposed again.
  v1::Trial failed = testing::TrialOf(31, testing::Assign({{"x", Num(0.5)}, {"y", Num(0.5)}}),
                                      v1::Trial::FAILED);
  history.push_back(failed);
  absl::StatusOr<std::vector<Assignment>> next = (*algorithm)->Suggest(history, 4);
  ASSERT_TRUE(next.ok());
  for (const Assignment& a : *next) {
    EXPECT_NE(space.Key(a), space.Key(failed.parameters()));
  }
}

TEST(GpAlgorithmTest, SmallFiniteSpaceIsExhaustedWithoutRepeats) {
  const SearchSpace space = MakeSpace(
      {IntParam("n", 1, 3), CategoricalParam("c", {"a", "b", "c"})});
  auto algorithm = CreateGpAlgorithm(Context(space));
  ASSERT_TRUE(algorithm.ok());
  std::vector<v1::Trial> history;
  for (int i = 1; i <= 12; ++i) {
    absl::StatusOr<std::vector<Assignment>> next =
        (*algorithm)->Suggest(history, 1);
    ASSERT_TRUE(next.ok());
    if (next->empty()) break;
    history.push_back(Completed(i, next->front(),
                                next->front().at("n").number_value()));
  }
  EXPECT_EQ(history.size(), 9u);
  absl::flat_hash_set<std::string> keys;
  for (const v1::Trial& t : history) keys.insert(space.Key(t.parameters()));
  EXPECT_EQ(keys.size(), 9u);
}

TEST(GpAlgorithmTest, SettingsAreCheckedByName) {
  auto with = [](const std::string& name, google::protobuf::Value value) {
    google::protobuf::Struct settings;
    (*settings.mutable_fields())[name] = std::move(value);
    return CreateGpAlgorithm(Context(MixedSpace(), 1, settings)).status();
  };
  EXPECT_TRUE(with("initial_trials", Num(3)).ok());
  EXPECT_TRUE(with("acquisition", Str("ucb")).ok());
  EXPECT_THAT(with("initial_trials", Num(0)).message(),
              HasSubstr("settings.initial_trials: must be from 1"));
  EXPECT_THAT(with("initial_trials", Num(2.5)).message(),
              HasSubstr("settings.initial_trials: must be an integer"));
  EXPECT_THAT(with("acquisition", Str("ei")).message(),
              HasSubstr("settings.acquisition: must be 'log_ei' or 'ucb'"));
  EXPECT_THAT(with("beta", Num(2)).message(),
              HasSubstr("settings.beta: only the 'ucb' acquisition"));
  EXPECT_THAT(with("noise_floor", Num(1)).message(),
              HasSubstr("settings.noise_floor: must be in"));
  EXPECT_THAT(with("candidates", Num(10)).message(),
              HasSubstr("settings.candidates: must be from 64"));
  google::protobuf::Value yes;
  yes.set_bool_value(true);
  EXPECT_TRUE(with("second_basin", yes).ok());
  EXPECT_THAT(with("second_basin", Num(1)).message(),
              HasSubstr("settings.second_basin: must be true or false"));
  EXPECT_THAT(with("kernel", Str("rbf")).message(),
              HasSubstr("settings.kernel: unknown setting for algorithm 'gp'"));
}

// Two basins in [0, 1]^2: the best (0) at (0.2, 0.2), a worse one (0.3) at
// (0.8, 0.8).
double TwoBasins(double x, double y) {
  return std::min(10 * (std::pow(x - 0.2, 2) + std::pow(y - 0.2, 2)),
                  0.3 + 10 * (std::pow(x - 0.8, 2) + std::pow(y - 0.8, 2)));
}

// The best basin's minimum first, then a 6 x 6 grid without it: the best has
// not improved for 35 observations.
std::vector<v1::Trial> StalledTwoBasinHistory() {
  std::vector<v1::Trial> history;
  auto add = [&](double x, double y) {
    const int number = static_cast<int>(history.size()) + 1;
    history.push_back(Completed(number,
                                testing::Assign({{"x", Num(x)}, {"y", Num(y)}}),
                                TwoBasins(x, y)));
  };
  add(0.2, 0.2);
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < 6; ++j) {
      if (i != 1 || j != 1) add(0.2 * i, 0.2 * j);
    }
  }
  return history;
}

TEST(GpAlgorithmTest, StalledSearchStepsIntoTheSecondBasinOnEvenTrials) {
  const SearchSpace space =
      MakeSpace({DoubleParam("x", 0, 1), DoubleParam("y", 0, 1)});
  const std::vector<v1::Trial> history = StalledTwoBasinHistory();
  ASSERT_EQ(history.size(), 36u);
  auto suggest = [&](const std::vector<v1::Trial>& h, bool second_basin) {
    google::protobuf::Struct settings;
    (*settings.mutable_fields())["second_basin"].set_bool_value(second_basin);
    auto algorithm = CreateGpAlgorithm(Context(space, 4, settings));
    EXPECT_TRUE(algorithm.ok());
    absl::StatusOr<std::vector<Assignment>> next = (*algorithm)->Suggest(h, 1);
    EXPECT_TRUE(next.ok() && next->size() == 1);
    return std::make_pair(next->front().at("x").number_value(),
                          next->front().at("y").number_value());
  };
  auto near = [](std::pair<double, double> p, double x, double y) {
    return std::abs(p.first - x) <= 0.2 + 1e-9 &&
           std::abs(p.second - y) <= 0.2 + 1e-9;
  };
  // Trial 37 (odd) refines the best basin, with or without the setting.
  EXPECT_TRUE(near(suggest(history, true), 0.2, 0.2));
  EXPECT_TRUE(near(suggest(history, false), 0.2, 0.2));

  // Trial 38 (even) is a step in the other basin, only with the setting.
  std::vector<v1::Trial> longer = history;
  longer.push_back(
      Completed(37, testing::Assign({{"x", Num(0.25)}, {"y", Num(0.15)}}),
                TwoBasins(0.25, 0.15)));
  const std::pair<double, double> step = suggest(longer, true);
  EXPECT_TRUE(near(step, 0.8, 0.8)) << step.first << ", " << step.second;
  EXPECT_TRUE(near(suggest(longer, false), 0.2, 0.2));
  // A function of the history: an instance that saw the history grow takes
  // the same step as a fresh one.
  auto grown = CreateGpAlgorithm(Context(space, 4));
  ASSERT_TRUE(grown.ok());
  ASSERT_TRUE((*grown)->Suggest(history, 1).ok());
  absl::StatusOr<std::vector<Assignment>> again = (*grown)->Suggest(longer, 1);
  ASSERT_TRUE(again.ok() && again->size() == 1);
  EXPECT_EQ(again->front().at("x").number_value(), step.first);
  EXPECT_EQ(again->front().at("y").number_value(), step.second);

  // Once the best improves, the search is plain again.
  longer.back().set_objective(-1);
  EXPECT_TRUE(near(suggest(longer, true), 0.25, 0.15));
}

TEST(GpAlgorithmTest, UcbAlsoConverges) {
  google::protobuf::Struct settings;
  (*settings.mutable_fields())["acquisition"] = Str("ucb");
  (*settings.mutable_fields())["beta"] = Num(1);
  auto algorithm = CreateGpAlgorithm(Context(MixedSpace(), 2, settings));
  ASSERT_TRUE(algorithm.ok());
  const std::vector<v1::Trial> history = RunSequentially(**algorithm, 40);
  double best = 1e9;
  for (const v1::Trial& t : history) best = std::min(best, t.objective());
  EXPECT_LT(best, 0.5);
}

}  // namespace
}  // namespace vernier::algorithms
