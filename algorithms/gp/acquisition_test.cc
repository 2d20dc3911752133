#include "algorithms/gp/acquisition.h"

#include <cmath>
#include <numbers>

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

}  // namespace
}  // namespace vernier::algorithms::gp
