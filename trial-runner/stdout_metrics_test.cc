#include "trial-runner/stdout_metrics.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::trial_runner {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

const std::vector<std::string> kNames = {"accuracy", "fit_seconds", "loss",
                                         "C"};

TEST(ParseMetricLineTest, ReadsNameValuePairs) {
  auto parsed = ParseMetricLine("accuracy=0.97 fit_seconds=1.2", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->step.has_value());
  EXPECT_THAT(parsed->metrics,
              ElementsAre(Pair("accuracy", 0.97), Pair("fit_seconds", 1.2)));
}

TEST(ParseMetricLineTest, AcceptsCommaSemicolonAndTabSeparators) {
  for (const char* line :
       {"accuracy=0.5,loss=2", "accuracy=0.5;loss=2", "accuracy=0.5\tloss=2",
        "accuracy=0.5, loss=2", "accuracy=0.5 ; loss=2\r"}) {
    auto parsed = ParseMetricLine(line, kNames);
    ASSERT_TRUE(parsed.has_value()) << line;
    EXPECT_THAT(parsed->metrics,
                ElementsAre(Pair("accuracy", 0.5), Pair("loss", 2.0)))
        << line;
  }
}

TEST(ParseMetricLineTest, AcceptsSpacesAroundEquals) {
  auto parsed = ParseMetricLine("loss = 0.5  accuracy =0.25", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics,
              ElementsAre(Pair("accuracy", 0.25), Pair("loss", 0.5)));
}

TEST(ParseMetricLineTest, FindsTokensInsideOtherText) {
  auto parsed = ParseMetricLine("Epoch 3: step=3 loss=0.51 (lr=0.1)", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->step, 3);
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 0.51)));

  parsed = ParseMetricLine("[train] (loss=0.25) done", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 0.25)));
}

TEST(ParseMetricLineTest, ReadsIntegersDecimalsAndScientificNotation) {
  auto parsed =
      ParseMetricLine("C=3 loss=-1.5e-3 accuracy=+2E2 fit_seconds=.5", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics,
              ElementsAre(Pair("C", 3.0), Pair("accuracy", 200.0),
                          Pair("fit_seconds", 0.5), Pair("loss", -0.0015)));
}

TEST(ParseMetricLineTest, ReadsNanAndInfinities) {
  auto parsed = ParseMetricLine(
      "loss=nan accuracy=NaN C=-inf fit_seconds=Infinity", kNames);
  ASSERT_TRUE(parsed.has_value());
  ASSERT_EQ(parsed->metrics.size(), 4u);
  EXPECT_TRUE(std::isnan(parsed->metrics["loss"]));
  EXPECT_TRUE(std::isnan(parsed->metrics["accuracy"]));
  EXPECT_EQ(parsed->metrics["C"], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(parsed->metrics["fit_seconds"],
            std::numeric_limits<double>::infinity());

  parsed = ParseMetricLine("loss=inf accuracy=-Infinity", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->metrics["loss"], std::numeric_limits<double>::infinity());
  EXPECT_EQ(parsed->metrics["accuracy"],
            -std::numeric_limits<double>::infinity());
}

TEST(ParseMetricLineTest, TakesOnlyWantedNames) {
  auto parsed = ParseMetricLine("lr=0.1 loss=0.5 epochs=3", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 0.5)));

  EXPECT_FALSE(ParseMetricLine("lr=0.1 epochs=3", kNames).has_value());
  EXPECT_FALSE(ParseMetricLine("", kNames).has_value());
  EXPECT_FALSE(ParseMetricLine("just some text", kNames).has_value());
}

TEST(ParseMetricLineTest, MatchesWholeKeysOnly) {
  // A launcher echoing its flags, and metrics whose names end in a wanted one.
  EXPECT_FALSE(ParseMetricLine("running train.py --C=3", kNames).has_value());
  EXPECT_FALSE(
      ParseMetricLine("val_loss=1 train-loss=2 x.loss=3 a/loss=4", kNames)
          .has_value());
  EXPECT_FALSE(ParseMetricLine("lossy=1 accuracy2=3", kNames).has_value());

  auto parsed = ParseMetricLine("val_loss=1 loss=2", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 2.0)));
}

TEST(ParseMetricLineTest, SkipsMalformedValuesAndKeepsTheRest) {
  auto parsed = ParseMetricLine(
      "loss=abc accuracy=97% C= fit_seconds=1.2.3 loss=1e accuracy=0.9",
      kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("accuracy", 0.9)));

  for (const char* line :
       {"loss=", "loss=abc", "loss=--1", "loss=+-1", "loss=0x10", "loss==1",
        "loss=nanx", "=1", "loss = = 2", "loss=1=2", "loss=0.5.."}) {
    EXPECT_FALSE(ParseMetricLine(line, kNames).has_value()) << line;
  }
}

TEST(ParseMetricLineTest, ReadsAValueThatEndsASentence) {
  auto parsed = ParseMetricLine("Done. Final loss=0.5.", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 0.5)));
}

TEST(ParseMetricLineTest, LaterValueOfANameWins) {
  auto parsed = ParseMetricLine("loss=1 loss=2", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 2.0)));
}

TEST(ParseMetricLineTest, StepMarksIntermediateValues) {
  auto parsed = ParseMetricLine("step=12 loss=0.3", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->step, 12);
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 0.3)));

  parsed = ParseMetricLine("loss=0.3 step = 0", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->step, 0);

  // A step alone is no measurement.
  EXPECT_FALSE(ParseMetricLine("step=3", kNames).has_value());
  // Only the exact key `step` is the step.
  parsed = ParseMetricLine("global_step=5 loss=0.3", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->step.has_value());
}

TEST(ParseMetricLineTest, IgnoresLinesWithABadStep) {
  for (const char* line :
       {"step=-1 loss=0.3", "step=1.5 loss=0.3", "step=x loss=0.3",
        "step= loss=0.3", "step=99999999999999999999 loss=0.3"}) {
    EXPECT_FALSE(ParseMetricLine(line, kNames).has_value()) << line;
  }
}

TEST(ParseMetricLineTest, ReadsJsonObjectLines) {
  auto parsed =
      ParseMetricLine(R"({"step": 3, "loss": 0.5, "lr": 0.1})", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->step, 3);
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 0.5)));

  parsed = ParseMetricLine(R"(  {"accuracy": 1, "C": -2e1}  )", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->step.has_value());
  EXPECT_THAT(parsed->metrics,
              ElementsAre(Pair("C", -20.0), Pair("accuracy", 1.0)));
}

TEST(ParseMetricLineTest, ReadsNonFiniteJsonValuesAsPythonWritesThem) {
  // json.dumps({"loss": float("nan"), "accuracy": float("-inf")}), and strings.
  auto parsed = ParseMetricLine(
      R"({"loss": NaN, "accuracy": -Infinity, "C": "inf", "note": "NaN"})",
      kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(std::isnan(parsed->metrics["loss"]));
  EXPECT_EQ(parsed->metrics["accuracy"],
            -std::numeric_limits<double>::infinity());
  EXPECT_EQ(parsed->metrics["C"], std::numeric_limits<double>::infinity());
  EXPECT_EQ(parsed->metrics.size(), 3u);
}

TEST(ParseMetricLineTest, SkipsBadJsonValuesAndIgnoresBadJsonSteps) {
  auto parsed = ParseMetricLine(
      R"({"loss": "high", "accuracy": true, "C": null, "fit_seconds": 2})",
      kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("fit_seconds", 2.0)));

  EXPECT_FALSE(
      ParseMetricLine(R"({"step": -1, "loss": 0.5})", kNames).has_value());
  EXPECT_FALSE(
      ParseMetricLine(R"({"step": 1.5, "loss": 0.5})", kNames).has_value());
  EXPECT_FALSE(
      ParseMetricLine(R"({"step": "3", "loss": 0.5})", kNames).has_value());
  EXPECT_FALSE(ParseMetricLine(R"({"lr": 0.5})", kNames).has_value());
}

TEST(ParseMetricLineTest, MalformedJsonNeverCrashes) {
  for (const char* line :
       {"{", "{}", R"({"loss": })", R"({"loss": 0.5,})", R"({"loss" 0.5})",
        "{loss=0.5}", R"({"a": "\"NaN"})", R"({"loss": [1, 2]})",
        R"({"loss": {"x": 1}})", "{\"loss\": 1e999999}"}) {
    ParseMetricLine(line, kNames);
  }
  // Not JSON, but a token the key=value reading finds.
  auto parsed = ParseMetricLine("{loss=0.5}", kNames);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_THAT(parsed->metrics, ElementsAre(Pair("loss", 0.5)));
}

TEST(ParseMetricValueTest, AcceptsOnlyWholeNumbers) {
  EXPECT_EQ(ParseMetricValue("42"), 42.0);
  EXPECT_EQ(ParseMetricValue("+1.5"), 1.5);
  EXPECT_EQ(ParseMetricValue("1e3"), 1000.0);
  EXPECT_FALSE(ParseMetricValue("").has_value());
  EXPECT_FALSE(ParseMetricValue("+").has_value());
  EXPECT_FALSE(ParseMetricValue("1.0x").has_value());
  EXPECT_FALSE(ParseMetricValue(" 1").has_value());
  EXPECT_FALSE(ParseMetricValue("0x1p3").has_value());
}

}  // namespace
}  // namespace vernier::trial_runner
