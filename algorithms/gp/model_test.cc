#include <cmath>
#include <random>
#include <vector>

#include "Eigen/Core"
#include "algorithms/gp/fit.h"
#include "algorithms/gp/kernel.h"
#include "algorithms/gp/likelihood.h"
#include "algorithms/gp/model.h"
#include "algorithms/gp/refit_schedule.h"
#include "algorithms/gp/sobol.h"
#include "gtest/gtest.h"

namespace vernier::algorithms::gp {
namespace {

// Three numeric dimensions and one categorical (indices 0..2).
const std::vector<bool> kMixed = {false, false, true, false};

Eigen::MatrixXd RandomPoints(int n, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  Eigen::MatrixXd points(4, n);
  for (int i = 0; i < n; ++i) {
    points.col(i) << unit(engine), unit(engine),
        static_cast<double>(engine() % 3), unit(engine);
  }
  return points;
}

Matern52Kernel MixedKernel() {
  Eigen::VectorXd lengthscales(4);
  lengthscales << 0.3, 0.7, 0.9, 0.2;
  return Matern52Kernel(kMixed, lengthscales, 1.7);
}

TEST(Matern52KernelTest, MatchesTheClosedForm) {
  const Matern52Kernel kernel = MixedKernel();
  Eigen::VectorXd a(4), b(4);
  a << 0.1, 0.2, 1, 0.5;
  b << 0.4, 0.2, 2, 0.3;
  const double r2 = std::pow(0.3 / 0.3, 2) + 1.0 / (0.9 * 0.9) +
                    std::pow(0.2 / 0.2, 2);
  const double r = std::sqrt(r2);
  const double expected = 1.7 * (1 + std::sqrt(5) * r + 5 * r2 / 3) *
                          std::exp(-std::sqrt(5) * r);
  Eigen::MatrixXd points(4, 1);
  points.col(0) = b;
  EXPECT_NEAR(kernel.Cross(points, a)[0], expected, 1e-12);
  EXPECT_NEAR(kernel.Gram(points)(0, 0), 1.7, 1e-15);
  // Category order carries no meaning: categories 0 and 2 are as far apart
  // as 1 and 2.
  a[2] = 0;
  EXPECT_NEAR(kernel.Cross(points, a)[0], expected, 1e-12);
}

TEST(Matern52KernelTest, GradientMatchesFiniteDifferences) {
  const Matern52Kernel kernel = MixedKernel();
  const Eigen::MatrixXd points = RandomPoints(7, 1);
  Eigen::VectorXd x(4);
  x << 0.35, 0.6, 1, 0.42;
  const Eigen::MatrixXd gradient = kernel.CrossGradient(points, x);
  const double h = 1e-6;
  for (int j : {0, 1, 3}) {
    Eigen::VectorXd up = x, down = x;
    up[j] += h;
    down[j] -= h;
    const Eigen::VectorXd numeric =
        (kernel.Cross(points, up) - kernel.Cross(points, down)) / (2 * h);
    for (int i = 0; i < 7; ++i) {
      EXPECT_NEAR(gradient(j, i), numeric[i], 1e-7) << "j=" << j << " i=" << i;
    }
  }
  EXPECT_TRUE(gradient.row(2).isZero());
}

TEST(Matern52KernelTest, VectorisedCorrelationsMatchTheScalarOnes) {
  Eigen::MatrixXd r2(3, 4);
  r2 << 0, 1e-12, 1e-6, 0.01, 0.1, 0.5, 1, 2, 5, 10, 40, 200;
  const Eigen::MatrixXd values = Matern52Kernel::Correlations(r2);
  const Eigen::MatrixXd slopes = Matern52Kernel::CorrelationDerivatives(r2);
  for (Eigen::Index i = 0; i < r2.size(); ++i) {
    EXPECT_NEAR(values(i), Matern52Kernel::Correlation(r2(i)), 1e-14) << r2(i);
    EXPECT_NEAR(slopes(i), Matern52Kernel::CorrelationDerivative(r2(i)), 1e-14)
        << r2(i);
  }
}

TEST(Matern52KernelTest, MatrixFormsMatchThePairwiseDefinition) {
  const Matern52Kernel kernel = MixedKernel();
  Eigen::MatrixXd a = RandomPoints(30, 11);
  const Eigen::MatrixXd b = RandomPoints(17, 12);
  a.col(5) = b.col(3);  // a pair at distance 0
  const Eigen::MatrixXd r2 = kernel.PairwiseScaledSquaredDistances(a, b);
  const Eigen::MatrixXd cross = kernel.CrossMatrix(a, b);
  ASSERT_EQ(r2.rows(), 30);
  ASSERT_EQ(r2.cols(), 17);
  for (int i = 0; i < 30; ++i) {
    for (int c = 0; c < 17; ++c) {
      const double expected = kernel.ScaledSquaredDistance(a.col(i), b.col(c));
      EXPECT_NEAR(r2(i, c), expected, 1e-12) << i << "," << c;
      EXPECT_GE(r2(i, c), 0);
      EXPECT_NEAR(cross(i, c), 1.7 * Matern52Kernel::Correlation(expected),
                  1e-12)
          << i << "," << c;
    }
  }
  // The vector form agrees with a column of the matrix form.
  const Eigen::VectorXd column = kernel.Cross(a, b.col(4));
  for (int i = 0; i < 30; ++i) EXPECT_NEAR(column[i], cross(i, 4), 1e-12);

  const Eigen::MatrixXd gram = kernel.Gram(a);
  const Eigen::MatrixXd self = kernel.PairwiseScaledSquaredDistances(a);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(gram(i, i), 1.7);
    EXPECT_EQ(self(i, i), 0);
    for (int k = 0; k < 30; ++k) {
      EXPECT_EQ(gram(i, k), gram(k, i));
      const double expected = kernel.ScaledSquaredDistance(a.col(i), a.col(k));
      EXPECT_NEAR(self(i, k), expected, 1e-12);
      EXPECT_NEAR(gram(i, k), 1.7 * Matern52Kernel::Correlation(expected),
                  1e-12);
    }
  }
}

TEST(Matern52KernelTest, MatrixFormsHandleAllCategoricalAndAllNumeric) {
  Eigen::VectorXd lengthscales(2);
  lengthscales << 0.5, 2.0;
  const Matern52Kernel categorical({true, true}, lengthscales, 1.0);
  const Matern52Kernel numeric({false, false}, lengthscales, 1.0);
  Eigen::MatrixXd points(2, 3);
  points << 0, 1, 1,  //
      2, 2, 0;
  for (const Matern52Kernel* kernel : {&categorical, &numeric}) {
    const Eigen::MatrixXd r2 = kernel->PairwiseScaledSquaredDistances(points);
    for (int i = 0; i < 3; ++i) {
      for (int k = 0; k < 3; ++k) {
        EXPECT_NEAR(r2(i, k),
                    kernel->ScaledSquaredDistance(points.col(i), points.col(k)),
                    1e-12);
      }
    }
  }
}

TEST(LikelihoodTest, GradientMatchesFiniteDifferences) {
  const Eigen::MatrixXd points = RandomPoints(12, 2);
  Eigen::VectorXd targets(12);
  for (int i = 0; i < 12; ++i) {
    targets[i] = std::sin(6 * points(0, i)) + points(1, i) * points(2, i) -
                 points(3, i);
  }
  targets = (targets.array() - targets.mean()).matrix();
  Eigen::VectorXd theta(6);
  theta << std::log(0.4), std::log(0.8), std::log(1.3), std::log(0.25),
      std::log(1.2), std::log(0.01);
  const HyperPrior prior = DefaultPrior(4);
  Eigen::VectorXd gradient;
  const double value =
      LogPosterior(points, targets, kMixed, theta, prior, &gradient);
  ASSERT_TRUE(std::isfinite(value));
  const double h = 1e-5;
  for (int i = 0; i < theta.size(); ++i) {
    Eigen::VectorXd up = theta, down = theta;
    up[i] += h;
    down[i] -= h;
    const double numeric =
        (LogPosterior(points, targets, kMixed, up, prior, nullptr) -
         LogPosterior(points, targets, kMixed, down, prior, nullptr)) /
        (2 * h);
    EXPECT_NEAR(gradient[i], numeric, 1e-5 * std::max(1.0, std::abs(numeric)))
        << "theta " << i;
  }
}

TEST(LikelihoodTest, GradientMatchesFiniteDifferencesWithShortScales) {
  // More points and length scales from short to long, so the matrix form of
  // the length scales' gradient sums many terms of both signs.
  const Eigen::MatrixXd points = RandomPoints(70, 8);
  Eigen::VectorXd targets(70);
  for (int i = 0; i < 70; ++i) {
    targets[i] = std::cos(9 * points(0, i)) + (points(2, i) == 1 ? 0.5 : 0) +
                 points(3, i) * points(3, i);
  }
  targets = (targets.array() - targets.mean()).matrix();
  Eigen::VectorXd theta(6);
  theta << std::log(0.08), std::log(3.0), std::log(0.5), std::log(0.6),
      std::log(0.9), std::log(1e-3);
  const HyperPrior prior = DefaultPrior(4);
  Eigen::VectorXd gradient;
  ASSERT_TRUE(std::isfinite(
      LogPosterior(points, targets, kMixed, theta, prior, &gradient)));
  const double h = 1e-5;
  for (int i = 0; i < theta.size(); ++i) {
    Eigen::VectorXd up = theta, down = theta;
    up[i] += h;
    down[i] -= h;
    const double numeric =
        (LogPosterior(points, targets, kMixed, up, prior, nullptr) -
         LogPosterior(points, targets, kMixed, down, prior, nullptr)) /
        (2 * h);
    EXPECT_NEAR(gradient[i], numeric, 1e-5 * std::max(1.0, std::abs(numeric)))
        << "theta " << i;
  }
}

TEST(LikelihoodTest, FitPrefersTheLengthScaleThatMadeTheData) {
  // A function of x0 only: the fit should give x1 a much longer scale.
  Eigen::MatrixXd points(2, 30);
  Eigen::VectorXd targets(30);
  SobolSequence sobol(2, 3);
  for (int i = 0; i < 30; ++i) {
    const std::vector<double> p = sobol.Point(i);
    points.col(i) << p[0], p[1];
    targets[i] = std::sin(8 * p[0]);
  }
  targets = ((targets.array() - targets.mean()) /
             std::sqrt((targets.array() - targets.mean()).square().mean()))
                .matrix();
  std::mt19937_64 engine(5);
  const Eigen::VectorXd theta = FitHyperparameters(
      points, targets, {false, false}, std::nullopt, FitOptions{}, engine);
  EXPECT_LT(std::exp(theta[0]), 0.5);
  EXPECT_GT(std::exp(theta[1]), 3 * std::exp(theta[0]));
  EXPECT_LT(std::exp(theta[3]), 1e-2);  // noiseless data: little noise
}

TEST(GpModelTest, PosteriorOfOnePointIsTheClosedForm) {
  // One observation y at x1: mean(x) = k(x, x1) y / (s + n), variance(x) =
  // s - k(x, x1)^2 / (s + n), with s the signal and n the noise variance.
  Eigen::VectorXd lengthscales(1);
  lengthscales << 0.5;
  GpModel model(Matern52Kernel({false}, lengthscales, 2.0), 0.1);
  Eigen::MatrixXd points(1, 1);
  points << 0.2;
  Eigen::VectorXd targets(1);
  targets << 1.5;
  ASSERT_TRUE(model.Factorise(points, targets).ok());
  Eigen::VectorXd x(1);
  x << 0.7;
  const double r = 0.5 / 0.5;
  const double k =
      2.0 * (1 + std::sqrt(5) * r + 5 * r * r / 3) * std::exp(-std::sqrt(5) * r);
  const Prediction p = model.Predict(x);
  EXPECT_NEAR(p.mean, k * 1.5 / 2.1, 1e-12);
  EXPECT_NEAR(p.variance, 2.0 - k * k / 2.1, 1e-12);
  // At the observed point: shrunk towards the observation by s / (s + n).
  const Prediction at = model.Predict(points.col(0));
  EXPECT_NEAR(at.mean, 1.5 * 2.0 / 2.1, 1e-12);
  EXPECT_NEAR(at.variance, 2.0 - 4.0 / 2.1, 1e-12);
}

TEST(GpModelTest, IncrementalFactorEqualsAFreshOne) {
  const Eigen::MatrixXd points = RandomPoints(40, 3);
  Eigen::VectorXd targets = points.row(0).transpose() - points.row(3).transpose();
  GpModel fresh(MixedKernel(), 1e-4);
  ASSERT_TRUE(fresh.Factorise(points, targets).ok());
  GpModel grown(MixedKernel(), 1e-4);
  ASSERT_TRUE(grown.Factorise(points.leftCols(5), targets.head(5)).ok());
  for (int i = 5; i < 40; ++i) {
    ASSERT_TRUE(grown.Append(points.col(i), targets[i]).ok());
  }
  ASSERT_EQ(grown.size(), 40);
  EXPECT_LT((grown.CholeskyFactor() - fresh.CholeskyFactor()).cwiseAbs().maxCoeff(),
            1e-10);
  Eigen::VectorXd x(4);
  x << 0.5, 0.5, 1, 0.5;
  EXPECT_NEAR(grown.Predict(x).mean, fresh.Predict(x).mean, 1e-9);
  EXPECT_NEAR(grown.Predict(x).variance, fresh.Predict(x).variance, 1e-9);
  // Truncating back is exact.
  grown.Truncate(20);
  GpModel first20(MixedKernel(), 1e-4);
  ASSERT_TRUE(first20.Factorise(points.leftCols(20), targets.head(20)).ok());
  EXPECT_NEAR(grown.Predict(x).mean, first20.Predict(x).mean, 1e-9);
}

TEST(GpModelTest, DuplicatePointsWithoutNoiseFactoriseWithJitter) {
  Eigen::MatrixXd points(4, 3);
  points.col(0) << 0.1, 0.2, 0, 0.3;
  points.col(1) = points.col(0);
  points.col(2) = points.col(0);
  GpModel model(MixedKernel(), 0);
  ASSERT_TRUE(model.Factorise(points, Eigen::Vector3d(1, 1, 1)).ok());
  EXPECT_GT(model.jitter(), 0);
  ASSERT_TRUE(model.Append(points.col(0), 1).ok());
  EXPECT_TRUE(std::isfinite(model.Predict(points.col(0)).mean));
}

TEST(GpModelTest, PredictionGradientMatchesFiniteDifferences) {
  const Eigen::MatrixXd points = RandomPoints(15, 4);
  const Eigen::VectorXd targets = points.row(1).transpose().array().sin();
  GpModel model(MixedKernel(), 1e-3);
  ASSERT_TRUE(model.Factorise(points, targets).ok());
  Eigen::VectorXd x(4);
  x << 0.3, 0.45, 2, 0.6;
  const PredictionWithGradient p = model.PredictWithGradient(x);
  EXPECT_NEAR(p.mean, model.Predict(x).mean, 1e-12);
  const double h = 1e-6;
  for (int j : {0, 1, 3}) {
    Eigen::VectorXd up = x, down = x;
    up[j] += h;
    down[j] -= h;
    EXPECT_NEAR(p.mean_gradient[j],
                (model.Predict(up).mean - model.Predict(down).mean) / (2 * h),
                1e-6);
    EXPECT_NEAR(
        p.variance_gradient[j],
        (model.Predict(up).variance - model.Predict(down).variance) / (2 * h),
        1e-6);
  }
}

TEST(GpModelTest, PredictManyEqualsPredictAcrossBlocks) {
  const Eigen::MatrixXd points = RandomPoints(40, 6);
  const Eigen::VectorXd targets = points.row(0).transpose().array().cos();
  GpModel model(MixedKernel(), 1e-4);
  ASSERT_TRUE(model.Factorise(points, targets).ok());
  // More candidates than one block holds, so blocks' edges are crossed.
  const Eigen::MatrixXd candidates = RandomPoints(2500, 7);
  Eigen::VectorXd means, variances;
  model.PredictMany(candidates, &means, &variances);
  ASSERT_EQ(means.size(), 2500);
  ASSERT_EQ(variances.size(), 2500);
  for (int c = 0; c < 2500; ++c) {
    const Prediction p = model.Predict(candidates.col(c));
    EXPECT_NEAR(means[c], p.mean, 1e-10) << c;
    EXPECT_NEAR(variances[c], p.variance, 1e-10) << c;
  }
}

TEST(SobolTest, EachCoordinateStratifiesEveryPowerOfTwo) {
  SobolSequence sobol(20, 9);
  std::vector<std::vector<double>> points;
  for (uint32_t i = 0; i < 64; ++i) points.push_back(sobol.Point(i));
  for (int j = 0; j < 20; ++j) {
    std::vector<int> cells(64, 0);
    for (const auto& p : points) ++cells[static_cast<int>(p[j] * 64)];
    for (int c = 0; c < 64; ++c) EXPECT_EQ(cells[c], 1) << "dim " << j;
  }
}

TEST(RefitScheduleTest, EveryTrialThenGeometric) {
  EXPECT_FALSE(IsSchedulePoint(1));
  for (int n = 2; n <= 50; ++n) EXPECT_TRUE(IsSchedulePoint(n));
  EXPECT_FALSE(IsSchedulePoint(51));
  EXPECT_TRUE(IsSchedulePoint(55));
  EXPECT_EQ(LastSchedulePoint(54), 50);
  EXPECT_EQ(LastSchedulePoint(55), 55);
  EXPECT_EQ(PreviousSchedulePoint(55), 50);
  EXPECT_TRUE(IsAnchor(2));
  EXPECT_TRUE(IsAnchor(50));
  EXPECT_FALSE(IsAnchor(55));
  int fits = 0;
  for (int n = 51; n <= 1000; ++n) fits += IsSchedulePoint(n);
  EXPECT_LE(fits, 35);
}

}  // namespace
}  // namespace vernier::algorithms::gp
