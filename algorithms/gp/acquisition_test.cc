#include "algorithms/gp/acquisition.h"

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "Eigen/Core"
#include "algorithms/gp/acquisition_optimizer.h"
#include "algorithms/gp/encoding.h"
#include "algorithms/gp/kernel.h"
#include "algorithms/gp/model.h"
#include "algorithms/test_spaces.h"
#include "gtest/gtest.h"

namespace vernier::algorithms::gp {
namespace {

// log(z Phi(z) + phi(z)) computed directly: accurate where h is not tiny.
double DirectLogH(double z) {
  const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
  const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * std::numbers::pi);
  return std::log(z * cdf + pdf);
}

TEST(LogExpectedImprovementTest, MatchesTheDirectFormulaWhereItIsAccurate) {
  for (double z = -5; z <= 6; z += 0.125) {
    EXPECT_NEAR(LogH(z), DirectLogH(z), 1e-9 * std::max(1.0, std::abs(DirectLogH(z))))
        << "z=" << z;
  }
  // And as EI itself: sd * h(z).
  const double mean = 0.3, sd = 0.7, best = -0.2;
  const double z = (best - mean) / sd;
  EXPECT_NEAR(std::exp(LogExpectedImprovement(mean, sd, best)),
              sd * std::exp(DirectLogH(z)), 1e-12);
}

TEST(LogExpectedImprovementTest, FiniteAndDecreasingFarIntoTheTail) {
  double previous = LogH(-1);
  for (double z : {-2.0, -5.0, -10.0, -29.9, -30.1, -40.0, -100.0, -1e4, -1e8,
                   -1e100}) {
    const double value = LogH(z);
    EXPECT_TRUE(std::isfinite(value)) << "z=" << z;
    EXPECT_LT(value, previous) << "z=" << z;
    previous = value;
  }
  // Plain EI underflows long before: at z = -40 it is exactly 0.
  EXPECT_EQ(DirectLogH(-40), -std::numeric_limits<double>::infinity());
  // The asymptote: log h(z) ~ log phi(z) - 2 log|z|.
  const double z = -1e4;
  EXPECT_NEAR(LogH(z), -0.5 * z * z - 0.5 * std::log(2 * std::numbers::pi) -
                           2 * std::log(-z),
              1e-6);
}

TEST(LogExpectedImprovementTest, ContinuousWhereTheFormulaChanges) {
  for (double z : {-1.0, -30.0}) {
    EXPECT_NEAR(LogH(z - 1e-9), LogH(z + 1e-9), 1e-7 * std::abs(LogH(z)));
  }
  EXPECT_NEAR(Erfcx(25 - 1e-12), Erfcx(25 + 1e-12), 1e-12);
}

TEST(LogExpectedImprovementTest, DerivativeMatchesFiniteDifferences) {
  for (double z : {-50.0, -20.0, -3.0, -0.5, 0.0, 2.0}) {
    const double h = 1e-6 * std::max(1.0, std::abs(z));
    EXPECT_NEAR(LogHDerivative(z), (LogH(z + h) - LogH(z - h)) / (2 * h),
                1e-5 * std::max(1.0, std::abs(z)))
        << "z=" << z;
  }
}

TEST(AcquisitionValueTest, DerivativesMatchFiniteDifferences) {
  for (AcquisitionKind kind : {AcquisitionKind::kLogEi, AcquisitionKind::kUcb}) {
    const Acquisition acquisition{kind, -0.4, 3.0};
    const double mean = 0.2, variance = 0.09;
    double d_mean = 0, d_variance = 0;
    AcquisitionValue(acquisition, mean, variance, &d_mean, &d_variance);
    const double h = 1e-7;
    EXPECT_NEAR(d_mean,
                (AcquisitionValue(acquisition, mean + h, variance, nullptr, nullptr) -
                 AcquisitionValue(acquisition, mean - h, variance, nullptr, nullptr)) /
                    (2 * h),
                1e-5);
    EXPECT_NEAR(d_variance,
                (AcquisitionValue(acquisition, mean, variance + h, nullptr, nullptr) -
                 AcquisitionValue(acquisition, mean, variance - h, nullptr, nullptr)) /
                    (2 * h),
                1e-5);
  }
}

TEST(AcquisitionValueTest, UcbIsTheNegatedLowerBound) {
  const Acquisition ucb{AcquisitionKind::kUcb, 0, 4.0};
  EXPECT_NEAR(AcquisitionValue(ucb, 1.0, 0.25, nullptr, nullptr), -1.0 + 2 * 0.5,
              1e-15);
}

Eigen::VectorXd Point(double x, double y) {
  Eigen::VectorXd p(2);
  p << x, y;
  return p;
}

TEST(SeparatedFromBestTest, PicksTheBestPointOfAnotherBasinInTheModelsMetric) {
  // x barely matters to this kernel (length scale 4), y does (0.1).
  const Matern52Kernel kernel({false, false}, Point(4, 0.1), 1);
  const std::vector<Eigen::VectorXd> ranked = {
      Point(0.5, 0.5),   // the best
      Point(0.0, 0.52),  // far in x, which the model ignores: same basin
      Point(0.5, 0.6),   // one length scale away in y: same basin
      Point(0.6, 0.9),   // four length scales away in y: another basin
      Point(0.5, 0.1)};  // another too, but worse
  EXPECT_EQ(SeparatedFromBest(ranked, kernel, 2.0), 3);
  EXPECT_EQ(SeparatedFromBest(ranked, kernel, 10.0), -1);
  EXPECT_EQ(SeparatedFromBest({Point(0.5, 0.5)}, kernel, 2.0), -1);
}

TEST(MaximiseAcquisitionNearTest, StaysInTheBoxAndFindsItsImprovement) {
  const Encoding encoding(testing::MakeSpace(
      {testing::DoubleParam("x", 0, 1), testing::DoubleParam("y", 0, 1)}));
  // Observations of (x - 0.3)^2 + (y - 0.7)^2 around the centre (0.4, 0.6),
  // plus a better one far away that the box must keep out.
  Eigen::MatrixXd points(2, 6);
  points << 0.4, 0.5, 0.3, 0.4, 0.45, 0.9,  //
      0.6, 0.6, 0.6, 0.5, 0.7, 0.1;
  Eigen::VectorXd y(6);
  for (int i = 0; i < 5; ++i) {
    y[i] = std::pow(points(0, i) - 0.3, 2) + std::pow(points(1, i) - 0.7, 2);
  }
  y[5] = -1;
  GpModel model(Matern52Kernel({false, false}, Point(0.3, 0.3), 1), 1e-6);
  ASSERT_TRUE(model.Factorise(points, (y.array() - y.mean()).matrix()).ok());
  Acquisition acquisition;
  acquisition.best = y.head(5).minCoeff() - y.mean();
  std::mt19937_64 engine(5);
  const Eigen::VectorXd centre = Point(0.4, 0.6);
  const std::vector<ScoredPoint> found =
      MaximiseAcquisitionNear(model, encoding, acquisition, nullptr, centre,
                              0.15, OptimizerOptions{}, engine);
  ASSERT_FALSE(found.empty());
  for (const ScoredPoint& p : found) {
    EXPECT_LE((p.features - centre).cwiseAbs().maxCoeff(), 0.15 + 1e-12);
  }
  for (size_t i = 1; i < found.size(); ++i) {
    EXPECT_GE(found[i - 1].value, found[i].value);
  }
  // Towards the minimum at (0.3, 0.7), which is inside the box.
  EXPECT_LT(found.front().features[0], 0.4);
  EXPECT_GT(found.front().features[1], 0.6);
}

}  // namespace
}  // namespace vernier::algorithms::gp
