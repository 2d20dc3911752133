#include "algorithms/gp/model.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "Eigen/Cholesky"
#include "absl/strings/str_cat.h"

namespace vernier::algorithms::gp {
namespace {

// Jitter steps, as multiples of the signal variance; 0 first.
constexpr double kFirstJitter = 1e-10;
constexpr double kLastJitter = 1e-4;
// PredictMany's block of candidates holds about this many kernel values
// (256 KiB), so it stays in a core's L2 cache.
constexpr Eigen::Index kPredictBlockEntries = 32768;

}  // namespace

GpModel::GpModel(Matern52Kernel kernel, double noise_variance)
    : kernel_(std::move(kernel)),
      noise_variance_(noise_variance),
      // A row per dimension from the start: EnsureCapacity copies blocks of
      // the same shape (Eigen asserts so in builds without NDEBUG).
      points_(kernel_.dimensions(), 0) {}

Eigen::Ref<const Eigen::MatrixXd> GpModel::points() const {
  return points_.leftCols(size_);
}

Eigen::Ref<const Eigen::VectorXd> GpModel::targets() const {
  return targets_.head(size_);
}

Eigen::MatrixXd GpModel::CholeskyFactor() const {
  return cholesky_.topLeftCorner(size_, size_)
      .triangularView<Eigen::Lower>()
      .toDenseMatrix();
}

void GpModel::EnsureCapacity(int size) {
  if (size <= points_.cols()) return;
  const int capacity = std::max<int>(size, 2 * points_.cols());
  Eigen::MatrixXd points(kernel_.dimensions(), capacity);
  points.leftCols(size_) = points_.leftCols(size_);
  points_ = std::move(points);
  Eigen::VectorXd targets(capacity);
  targets.head(size_) = targets_.head(size_);
  targets_ = std::move(targets);
  Eigen::MatrixXd cholesky = Eigen::MatrixXd::Zero(capacity, capacity);
  cholesky.topLeftCorner(size_, size_) = cholesky_.topLeftCorner(size_, size_);
  cholesky_ = std::move(cholesky);
}

absl::Status GpModel::Factorise(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::Ref<const Eigen::VectorXd>& targets) {
  size_ = 0;
  jitter_ = 0;
  EnsureCapacity(static_cast<int>(points.cols()));
  size_ = static_cast<int>(points.cols());
  points_.leftCols(size_) = points;
  targets_.head(size_) = targets;
  return FactoriseHeld();
}

absl::Status GpModel::FactoriseHeld() {
  const Eigen::MatrixXd gram = kernel_.Gram(points_.leftCols(size_));
  const double scale = kernel_.signal_variance();
  for (double jitter = jitter_; jitter <= kLastJitter * scale;
       jitter = std::max(kFirstJitter * scale, jitter * 10)) {
    Eigen::MatrixXd k = gram;
    k.diagonal().array() += noise_variance_ + jitter;
    Eigen::LLT<Eigen::MatrixXd> llt(k);
    if (llt.info() == Eigen::Success) {
      jitter_ = jitter;
      cholesky_.topLeftCorner(size_, size_) = llt.matrixL();
      UpdateWeights();
      return absl::OkStatus();
    }
  }
  const int size = size_;
  size_ = 0;
  return absl::InternalError(absl::StrCat(
      "the GP covariance of ", size,
      " points is not positive definite even with jitter"));
}

absl::Status GpModel::Append(const Eigen::Ref<const Eigen::VectorXd>& point,
                             double target) {
  EnsureCapacity(size_ + 1);
  const int n = size_;
  points_.col(n) = point;
  targets_[n] = target;
  if (n > 0) {
    Eigen::VectorXd row = kernel_.Cross(points_.leftCols(n), point);
    cholesky_.topLeftCorner(n, n)
        .triangularView<Eigen::Lower>()
        .solveInPlace(row);
    const double d2 = kernel_.signal_variance() + noise_variance_ + jitter_ -
                      row.squaredNorm();
    if (!(d2 > 1e-12 * kernel_.signal_variance())) {
      size_ = n + 1;
      jitter_ = std::max(jitter_ * 10, kFirstJitter * kernel_.signal_variance());
      return FactoriseHeld();
    }
    cholesky_.block(n, 0, 1, n) = row.transpose();
    cholesky_(n, n) = std::sqrt(d2);
  } else {
    const double d2 = kernel_.signal_variance() + noise_variance_ + jitter_;
    cholesky_(0, 0) = std::sqrt(d2);
  }
  size_ = n + 1;
  UpdateWeights();
  return absl::OkStatus();
}

void GpModel::Truncate(int size) {
  size_ = std::clamp(size, 0, size_);
  UpdateWeights();
}

void GpModel::SetTargets(const Eigen::Ref<const Eigen::VectorXd>& targets) {
  targets_.head(size_) = targets;
  UpdateWeights();
}

void GpModel::UpdateWeights() {
  const auto factor =
      cholesky_.topLeftCorner(size_, size_).triangularView<Eigen::Lower>();
  weights_ = factor.solve(targets_.head(size_));
  factor.transpose().solveInPlace(weights_);
}

Prediction GpModel::Predict(const Eigen::Ref<const Eigen::VectorXd>& x) const {
  if (size_ == 0) return {0, kernel_.signal_variance()};
  Eigen::VectorXd cross = kernel_.Cross(points_.leftCols(size_), x);
  const double mean = cross.dot(weights_);
  cholesky_.topLeftCorner(size_, size_)
      .triangularView<Eigen::Lower>()
      .solveInPlace(cross);
  return {mean, std::max(kernel_.signal_variance() - cross.squaredNorm(), 0.0)};
}

PredictionWithGradient GpModel::PredictWithGradient(
    const Eigen::Ref<const Eigen::VectorXd>& x) const {
  PredictionWithGradient out;
  const int d = kernel_.dimensions();
  if (size_ == 0) {
    out.variance = kernel_.signal_variance();
    out.mean_gradient = Eigen::VectorXd::Zero(d);
    out.variance_gradient = Eigen::VectorXd::Zero(d);
    return out;
  }
  const auto factor =
      cholesky_.topLeftCorner(size_, size_).triangularView<Eigen::Lower>();
  const Eigen::VectorXd cross = kernel_.Cross(points_.leftCols(size_), x);
  const Eigen::MatrixXd jacobian =
      kernel_.CrossGradient(points_.leftCols(size_), x);
  out.mean = cross.dot(weights_);
  out.mean_gradient = jacobian * weights_;
  const Eigen::VectorXd v = factor.solve(cross);
  out.variance = kernel_.signal_variance() - v.squaredNorm();
  // d(k** - k^T K^-1 k)/dx = -2 J K^-1 k.
  const Eigen::VectorXd k_inverse_cross = factor.transpose().solve(v);
  out.variance_gradient = -2.0 * (jacobian * k_inverse_cross);
  if (out.variance < 0) {
    out.variance = 0;
    out.variance_gradient.setZero();
  }
  return out;
}

void GpModel::PredictMany(const Eigen::Ref<const Eigen::MatrixXd>& xs,
                          Eigen::VectorXd* means,
                          Eigen::VectorXd* variances) const {
  const Eigen::Index m = xs.cols();
  if (size_ == 0) {
    *means = Eigen::VectorXd::Zero(m);
    *variances = Eigen::VectorXd::Constant(m, kernel_.signal_variance());
    return;
  }
  means->resize(m);
  variances->resize(m);
  // Candidates go in blocks whose kernel rows (size_ x block) stay in cache
  // through the kernel, the mean and the triangular solve.
  const Eigen::Index block =
      std::clamp<Eigen::Index>(kPredictBlockEntries / size_, 16, 1024);
  const auto factor =
      cholesky_.topLeftCorner(size_, size_).triangularView<Eigen::Lower>();
  for (Eigen::Index start = 0; start < m; start += block) {
    const Eigen::Index count = std::min(block, m - start);
    // cross(i, c) = k(point i, candidate start + c).
    Eigen::MatrixXd cross = kernel_.CrossMatrix(points_.leftCols(size_),
                                                xs.middleCols(start, count));
    means->segment(start, count).noalias() = cross.transpose() * weights_;
    factor.solveInPlace(cross);
    variances->segment(start, count) =
        (kernel_.signal_variance() -
         cross.colwise().squaredNorm().transpose().array())
            .max(0.0)
            .matrix();
  }
}

}  // namespace vernier::algorithms::gp
