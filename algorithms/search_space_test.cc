#include "algorithms/search_space.h"

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

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
using testing::Specs;
using testing::Str;

double UnitOf(const SearchSpace& space, const Assignment& assignment) {
  absl::StatusOr<std::vector<double>> point = space.ToUnit(assignment);
  EXPECT_TRUE(point.ok()) << point.status();
  return point.ok() ? point->at(0) : -1;
}

double NumberAt(const SearchSpace& space, double u) {
  return space.FromUnit({u}).at("x").number_value();
}

// FromUnit(ToUnit(a)) for a one-parameter space named "x".
google::protobuf::Value RoundTrip(const SearchSpace& space,
                                  const google::protobuf::Value& value) {
  const double u = UnitOf(space, Assign({{"x", value}}));
  return space.FromUnit({u}).at("x");
}

TEST(SearchSpaceTest, LinearDoubleMapsLinearlyAndRoundTrips) {
  const SearchSpace space = MakeSpace({DoubleParam("x", -5, 20)});
  EXPECT_EQ(UnitOf(space, Assign({{"x", Num(-5)}})), 0);
  EXPECT_EQ(UnitOf(space, Assign({{"x", Num(20)}})), 1);
  EXPECT_DOUBLE_EQ(UnitOf(space, Assign({{"x", Num(7.5)}})), 0.5);
  for (double x : {-5.0, -4.999, -1e-3, 0.37, 7.123456789, 19.99999, 20.0}) {
    const double back = RoundTrip(space, Num(x)).number_value();
    EXPECT_NEAR(back, x, 1e-12 * std::abs(x)) << x;
  }
}

TEST(SearchSpaceTest, LogDoubleMapsLogarithmicallyAndRoundTrips) {
  const SearchSpace space = MakeSpace({DoubleParam("x", 1e-5, 1, true)});
  EXPECT_NEAR(UnitOf(space, Assign({{"x", Num(1e-3)}})), 0.4, 1e-12);
  EXPECT_NEAR(NumberAt(space, 0.6), 1e-2, 1e-14);
  EXPECT_EQ(NumberAt(space, 0), 1e-5);
  EXPECT_EQ(NumberAt(space, 1), 1);
  for (double x : {1e-5, 3.3e-5, 1e-3, 0.37, 0.999, 1.0}) {
    const double back = RoundTrip(space, Num(x)).number_value();
    EXPECT_NEAR(back, x, 1e-12 * x) << x;
  }
}

TEST(SearchSpaceTest, DoubleDecodesInsideItsRange) {
  for (bool log : {false, true}) {
    const SearchSpace space = MakeSpace({DoubleParam("x", 0.1, 10, log)});
    for (int i = 0; i <= 1000; ++i) {
      const double x = NumberAt(space, i / 1000.0);
      EXPECT_GE(x, 0.1);
      EXPECT_LE(x, 10);
    }
  }
}

TEST(SearchSpaceTest, LinearIntGivesEachIntegerAnEqualShare) {
  const SearchSpace space = MakeSpace({IntParam("x", -3, 4)});
  // Eight integers, each owning 1/8 of [0,1]; -3 owns [0, 1/8).
  EXPECT_DOUBLE_EQ(UnitOf(space, Assign({{"x", Num(-3)}})), 1.0 / 16);
  EXPECT_DOUBLE_EQ(UnitOf(space, Assign({{"x", Num(4)}})), 15.0 / 16);
  std::map<double, int> counts;
  const int kSteps = 8000;
  for (int i = 0; i < kSteps; ++i) {
    ++counts[NumberAt(space, (i + 0.5) / kSteps)];
  }
  ASSERT_EQ(counts.size(), 8u);
  for (const auto& [k, count] : counts) {
    EXPECT_EQ(k, std::floor(k));
    EXPECT_NEAR(count, 1000, 1) << k;
  }
  for (int k = -3; k <= 4; ++k) {
    EXPECT_EQ(RoundTrip(space, Num(k)).number_value(), k);
  }
}

TEST(SearchSpaceTest, LogIntReachesEveryIntegerWithLogShares) {
  // Integer k owns [log(k - 0.5), log(k + 0.5)) of [log 0.5, log 1000.5].
  const SearchSpace space = MakeSpace({IntParam("x", 1, 1000, true)});
  const double span = std::log(1000.5 / 0.5);
  for (int k = 1; k <= 1000; ++k) {
    EXPECT_EQ(RoundTrip(space, Num(k)).number_value(), k) << k;
  }
  EXPECT_NEAR(UnitOf(space, Assign({{"x", Num(1)}})), 0.5 * std::log(3) / span,
              1e-12);
  std::vector<int> counts(1001);
  const int kSteps = 200000;
  double previous = 0;
  for (int i = 0; i <= kSteps; ++i) {
    const double x = NumberAt(space, static_cast<double>(i) / kSteps);
    ASSERT_EQ(x, std::floor(x));
    ASSERT_GE(x, 1);
    ASSERT_LE(x, 1000);
    ASSERT_GE(x, previous);  // monotone in u
    previous = x;
    ++counts[static_cast<int>(x)];
  }
  for (int k = 1; k <= 1000; ++k) EXPECT_GT(counts[k], 0) << k;
  EXPECT_NEAR(counts[1] / static_cast<double>(kSteps), std::log(3) / span,
              1e-4);
  EXPECT_NEAR(counts[10] / static_cast<double>(kSteps),
              std::log(10.5 / 9.5) / span, 1e-4);
}

TEST(SearchSpaceTest, DiscreteValuesOwnEqualCells) {
  const SearchSpace space = MakeSpace({DiscreteParam("x", {0.1, 0.5, 2, 10})});
  EXPECT_DOUBLE_EQ(UnitOf(space, Assign({{"x", Num(0.5)}})), 0.375);
  EXPECT_EQ(NumberAt(space, 0), 0.1);
  EXPECT_EQ(NumberAt(space, 0.2499), 0.1);
  EXPECT_EQ(NumberAt(space, 0.25), 0.5);
  EXPECT_EQ(NumberAt(space, 0.99), 10);
  EXPECT_EQ(NumberAt(space, 1), 10);
  for (double x : {0.1, 0.5, 2.0, 10.0}) {
    EXPECT_EQ(RoundTrip(space, Num(x)).number_value(), x);
  }
}

TEST(SearchSpaceTest, CategoriesOwnEqualCellsInSpecOrder) {
  const SearchSpace space =
      MakeSpace({CategoricalParam("x", {"adam", "sgd", "rmsprop"})});
  EXPECT_DOUBLE_EQ(UnitOf(space, Assign({{"x", Str("sgd")}})), 0.5);
  EXPECT_EQ(space.FromUnit({0}).at("x").string_value(), "adam");
  EXPECT_EQ(space.FromUnit({1}).at("x").string_value(), "rmsprop");
  for (const char* c : {"adam", "sgd", "rmsprop"}) {
    EXPECT_EQ(RoundTrip(space, Str(c)).string_value(), c);
  }
}

TEST(SearchSpaceTest, FromUnitClampsEveryCoordinate) {
  const SearchSpace space =
      MakeSpace({DoubleParam("d", 1, 2), DoubleParam("l", 1e-3, 1, true),
                 IntParam("i", 1, 9, true), DiscreteParam("k", {1, 2}),
                 CategoricalParam("c", {"a", "b"})});
  const Assignment low = space.FromUnit({-0.5, -1, -3, -0.1, -7});
  EXPECT_EQ(low.at("d").number_value(), 1);
  EXPECT_EQ(low.at("l").number_value(), 1e-3);
  EXPECT_EQ(low.at("i").number_value(), 1);
  EXPECT_EQ(low.at("k").number_value(), 1);
  EXPECT_EQ(low.at("c").string_value(), "a");
  const Assignment high = space.FromUnit({1.5, 2, 3, 1.1, 7});
  EXPECT_EQ(high.at("d").number_value(), 2);
  EXPECT_EQ(high.at("l").number_value(), 1);
  EXPECT_EQ(high.at("i").number_value(), 9);
  EXPECT_EQ(high.at("k").number_value(), 2);
  EXPECT_EQ(high.at("c").string_value(), "b");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(space.ToUnit(space.FromUnit({nan, nan, nan, nan, nan})).ok());
}

TEST(SearchSpaceTest, ToUnitNamesTheParameterItRejects) {
  const SearchSpace space =
      MakeSpace({DoubleParam("lr", 1e-4, 1, true), IntParam("layers", 1, 8),
                 DiscreteParam("batch", {16, 32, 64}),
                 CategoricalParam("opt", {"adam", "sgd"})});
  const Assignment good = Assign({{"lr", Num(0.01)},
                                  {"layers", Num(3)},
                                  {"batch", Num(32)},
                                  {"opt", Str("sgd")}});
  ASSERT_TRUE(space.ToUnit(good).ok());

  struct Case {
    std::string name;
    google::protobuf::Value value;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"lr", Str("0.01"), "expected a number"},
      {"lr", Num(2), "outside"},
      {"lr", Num(0), "outside"},
      {"layers", Num(9), "outside"},
      {"layers", Num(2.5), "not an integer"},
      {"batch", Num(48), "not one of its values"},
      {"opt", Str("rmsprop"), "not one of its categories"},
      {"opt", Num(1), "expected a string"},
  };
  for (const Case& c : cases) {
    Assignment bad = good;
    bad[c.name] = c.value;
    const absl::Status status = space.ToUnit(bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(status.message(), HasSubstr("'" + c.name + "'"));
    EXPECT_THAT(status.message(), HasSubstr(c.message));
  }
  Assignment missing = good;
  missing.erase("batch");
  const absl::Status status = space.ToUnit(missing).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'batch': missing"));
}

TEST(SearchSpaceTest, CreateRejectsInvalidSpaces) {
  v1::ParameterSpec untyped;
  untyped.set_name("x");
  v1::ParameterSpec unnamed = DoubleParam("", 0, 1);
  const std::vector<std::vector<v1::ParameterSpec>> invalid = {
      {unnamed},
      {untyped},
      {DoubleParam("x", 0, 1), IntParam("x", 0, 1)},
      {DoubleParam("x", 1, 1)},
      {DoubleParam("x", 2, 1)},
      {DoubleParam("x", 0, std::numeric_limits<double>::infinity())},
      {DoubleParam("x", 0, 1, true)},
      {IntParam("x", -1, 10, true)},
      {IntParam("x", 0.5, 10)},
      {IntParam("x", 0, 1e300)},
      {DoubleParam("x", 0, 1, false, 1)},
      {DiscreteParam("x", {})},
      {DiscreteParam("x", {1, 3, 2})},
      {DiscreteParam("x", {1, 1})},
      {DiscreteParam("x", {1, std::numeric_limits<double>::quiet_NaN()})},
      {CategoricalParam("x", {})},
      {CategoricalParam("x", {"a", "b", "a"})},
  };
  for (size_t i = 0; i < invalid.size(); ++i) {
    EXPECT_EQ(SearchSpace::Create(Specs(invalid[i])).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "case " << i;
  }
  EXPECT_THAT(SearchSpace::Create(Specs({DoubleParam("lr", 0, 1, true)}))
                  .status()
                  .message(),
              HasSubstr("'lr'"));
  EXPECT_TRUE(
      SearchSpace::Create(
          Specs({DoubleParam("a", -1, 1), IntParam("b", 1, 5, true, 3),
                 DiscreteParam("c", {1}), CategoricalParam("d", {"x"})}))
          .ok());
}

TEST(SearchSpaceTest, CardinalityCountsFiniteSpacesOnly) {
  EXPECT_EQ(
      MakeSpace({IntParam("a", 1, 10), CategoricalParam("b", {"x", "y", "z"}),
                 DiscreteParam("c", {1, 2})})
          .Cardinality(),
      60);
  EXPECT_EQ(
      MakeSpace({IntParam("a", 1, 10), DoubleParam("b", 0, 1)}).Cardinality(),
      std::nullopt);
  const double big = 1LL << 40;
  EXPECT_EQ(
      MakeSpace({IntParam("a", 0, big), IntParam("b", 0, big)}).Cardinality(),
      std::numeric_limits<int64_t>::max());
}

std::vector<double> Numbers(
    const absl::StatusOr<std::vector<google::protobuf::Value>>& values) {
  std::vector<double> numbers;
  EXPECT_TRUE(values.ok()) << values.status();
  if (!values.ok()) return numbers;
  for (const auto& v : *values) numbers.push_back(v.number_value());
  return numbers;
}

TEST(SearchSpaceTest, GridValuesFollowEachTypeAndScale) {
  const SearchSpace space = MakeSpace(
      {DiscreteParam("a", {1, 4}), CategoricalParam("b", {"x", "y"}),
       IntParam("c", -1, 2), IntParam("d", 1, 1000, true, 4),
       IntParam("e", 0, 3, false, 10), DoubleParam("f", 0, 1, false, 5),
       DoubleParam("g", 1e-4, 1, true, 3), DoubleParam("h", 0, 1)});
  EXPECT_THAT(Numbers(space.GridValues(0)), ElementsAre(1, 4));
  absl::StatusOr<std::vector<google::protobuf::Value>> categories =
      space.GridValues(1);
  ASSERT_TRUE(categories.ok());
  ASSERT_EQ(categories->size(), 2u);
  EXPECT_EQ((*categories)[1].string_value(), "y");
  EXPECT_THAT(Numbers(space.GridValues(2)), ElementsAre(-1, 0, 1, 2));
  EXPECT_THAT(Numbers(space.GridValues(3)), ElementsAre(1, 10, 100, 1000));
  // More grid points than integers: each integer once.
  EXPECT_THAT(Numbers(space.GridValues(4)), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(Numbers(space.GridValues(5)), ElementsAre(0, 0.25, 0.5, 0.75, 1));
  const std::vector<double> log_grid = Numbers(space.GridValues(6));
  ASSERT_EQ(log_grid.size(), 3u);
  EXPECT_EQ(log_grid[0], 1e-4);
  EXPECT_NEAR(log_grid[1], 1e-2, 1e-15);
  EXPECT_EQ(log_grid[2], 1);
  const absl::Status no_points = space.GridValues(7).status();
  EXPECT_EQ(no_points.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_points.message(), HasSubstr("'h'"));
  EXPECT_THAT(no_points.message(), HasSubstr("grid_points"));
}

TEST(SearchSpaceTest, KeyIsCanonicalAndExact) {
  const SearchSpace space = MakeSpace(
      {DoubleParam("x", -1, 1), CategoricalParam("c", {"a;c=\"b\"", "a"})});
  Assignment first = Assign({{"x", Num(0.1)}, {"c", Str("a")}});
  Assignment second;
  second["c"] = Str("a");
  second["x"] = Num(0.1);
  second["unrelated"] = Num(3);
  EXPECT_EQ(space.Key(first), space.Key(second));
  EXPECT_EQ(space.Key(first), "x=0.1;c=\"a\"");
  EXPECT_NE(space.Key(Assign({{"x", Num(1.0 / 3)}, {"c", Str("a")}})),
            space.Key(Assign({{"x", Num(0.333333)}, {"c", Str("a")}})));
  EXPECT_NE(
      space.Key(Assign({{"x", Num(0.1)}, {"c", Str("a")}})),
      space.Key(Assign({{"x", Num(std::nextafter(0.1, 1))}, {"c", Str("a")}})));
  EXPECT_EQ(space.Key(Assign({{"x", Num(-0.0)}, {"c", Str("a")}})),
            space.Key(Assign({{"x", Num(0.0)}, {"c", Str("a")}})));
  // A category holding the separators cannot pose as another assignment.
  EXPECT_NE(space.Key(Assign({{"x", Num(0)}, {"c", Str("a;c=\"b\"")}})),
            space.Key(Assign({{"x", Num(0)}, {"c", Str("a")}})));
  EXPECT_NE(space.Key(Assign({{"x", Num(0)}})),
            space.Key(Assign({{"x", Num(0)}, {"c", Str("<missing>")}})));
}

}  // namespace
}  // namespace vernier::algorithms
