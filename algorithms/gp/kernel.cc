#include "algorithms/gp/kernel.h"

#include <cmath>
#include <utility>

namespace vernier::algorithms::gp {

Matern52Kernel::Matern52Kernel(std::vector<bool> categorical,
                               Eigen::VectorXd lengthscales,
                               double signal_variance)
    : categorical_(std::move(categorical)),
      lengthscales_(std::move(lengthscales)),
      inverse_squared_(lengthscales_.array().square().inverse().matrix()),
      signal_variance_(signal_variance) {
  for (int j = 0; j < dimensions(); ++j) {
    (categorical_[j] ? categorical_dims_ : numeric_dims_).push_back(j);
  }
  numeric_inverse_.resize(static_cast<Eigen::Index>(numeric_dims_.size()));
  for (size_t r = 0; r < numeric_dims_.size(); ++r) {
    numeric_inverse_[r] = 1.0 / lengthscales_[numeric_dims_[r]];
  }
}

double Matern52Kernel::Correlation(double r2) {
  const double s = std::sqrt(5.0 * r2);
  return (1.0 + s + s * s / 3.0) * std::exp(-s);
}

double Matern52Kernel::CorrelationDerivative(double r2) {
  const double s = std::sqrt(5.0 * r2);
  return -(5.0 / 6.0) * (1.0 + s) * std::exp(-s);
}

Eigen::MatrixXd Matern52Kernel::Correlations(
    const Eigen::Ref<const Eigen::MatrixXd>& r2) {
  const Eigen::ArrayXXd s = (5.0 * r2.array()).sqrt();
  return ((1.0 + s + s.square() / 3.0) * (-s).exp()).matrix();
}

Eigen::MatrixXd Matern52Kernel::CorrelationDerivatives(
    const Eigen::Ref<const Eigen::MatrixXd>& r2) {
  const Eigen::ArrayXXd s = (5.0 * r2.array()).sqrt();
  return (-(5.0 / 6.0) * (1.0 + s) * (-s).exp()).matrix();
}

double Matern52Kernel::ScaledSquaredDistance(
    const Eigen::Ref<const Eigen::VectorXd>& a,
    const Eigen::Ref<const Eigen::VectorXd>& b) const {
  double r2 = 0;
  for (int j = 0; j < dimensions(); ++j) {
    const double d = categorical_[j] ? (a[j] != b[j] ? 1.0 : 0.0) : a[j] - b[j];
    r2 += d * d * inverse_squared_[j];
  }
  return r2;
}

Eigen::VectorXd Matern52Kernel::ScaledSquaredDistances(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::Ref<const Eigen::VectorXd>& x) const {
  Eigen::VectorXd r2 = Eigen::VectorXd::Zero(points.cols());
  for (int j = 0; j < dimensions(); ++j) {
    if (categorical_[j]) {
      r2.array() +=
          (points.row(j).array() != x[j]).cast<double>().transpose() *
          inverse_squared_[j];
    } else {
      r2.array() += (points.row(j).array() - x[j]).square().transpose() *
                    inverse_squared_[j];
    }
  }
  return r2;
}

Eigen::VectorXd Matern52Kernel::NumericCentre(
    const Eigen::Ref<const Eigen::MatrixXd>& points) const {
  Eigen::VectorXd centre =
      Eigen::VectorXd::Zero(static_cast<Eigen::Index>(numeric_dims_.size()));
  if (points.cols() == 0) return centre;
  for (size_t r = 0; r < numeric_dims_.size(); ++r) {
    centre[r] = points.row(numeric_dims_[r]).mean();
  }
  return centre;
}

Eigen::MatrixXd Matern52Kernel::ScaledNumeric(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::VectorXd& centre) const {
  Eigen::MatrixXd scaled(static_cast<Eigen::Index>(numeric_dims_.size()),
                         points.cols());
  for (size_t r = 0; r < numeric_dims_.size(); ++r) {
    scaled.row(r) = (points.row(numeric_dims_[r]).array() - centre[r]) *
                    numeric_inverse_[r];
  }
  return scaled;
}

void Matern52Kernel::AddMismatches(const Eigen::Ref<const Eigen::MatrixXd>& a,
                                   const Eigen::Ref<const Eigen::MatrixXd>& b,
                                   Eigen::MatrixXd& r2) const {
  for (int j : categorical_dims_) {
    r2.array() += (a.row(j).transpose().replicate(1, b.cols()).array() !=
                   b.row(j).replicate(a.cols(), 1).array())
                      .cast<double>() *
                  inverse_squared_[j];
  }
}

Eigen::MatrixXd Matern52Kernel::PairwiseScaledSquaredDistances(
    const Eigen::Ref<const Eigen::MatrixXd>& a,
    const Eigen::Ref<const Eigen::MatrixXd>& b) const {
  Eigen::MatrixXd r2 = Eigen::MatrixXd::Zero(a.cols(), b.cols());
  if (!numeric_dims_.empty() && r2.size() > 0) {
    // Centring on a's mean keeps |a|^2 and |b|^2 small, so the difference
    // below cancels less.
    const Eigen::VectorXd centre = NumericCentre(a);
    const Eigen::MatrixXd scaled_a = ScaledNumeric(a, centre);
    const Eigen::MatrixXd scaled_b = ScaledNumeric(b, centre);
    r2.noalias() = -2.0 * scaled_a.transpose() * scaled_b;
    r2.colwise() += scaled_a.colwise().squaredNorm().transpose();
    r2.rowwise() += scaled_b.colwise().squaredNorm();
    r2 = r2.cwiseMax(0.0);
  }
  AddMismatches(a, b, r2);
  return r2;
}

Eigen::MatrixXd Matern52Kernel::PairwiseScaledSquaredDistances(
    const Eigen::Ref<const Eigen::MatrixXd>& points) const {
  const Eigen::Index n = points.cols();
  Eigen::MatrixXd r2 = Eigen::MatrixXd::Zero(n, n);
  if (!numeric_dims_.empty() && n > 0) {
    const Eigen::MatrixXd scaled = ScaledNumeric(points, NumericCentre(points));
    // The lower triangle only (half the work), then mirrored, so the result
    // is exactly symmetric.
    r2.selfadjointView<Eigen::Lower>().rankUpdate(scaled.transpose(), -2.0);
    const Eigen::VectorXd norms = scaled.colwise().squaredNorm().transpose();
    r2.colwise() += norms;
    r2.rowwise() += norms.transpose();
    r2 = r2.cwiseMax(0.0);
    r2.triangularView<Eigen::StrictlyUpper>() = r2.transpose();
    r2.diagonal().setZero();
  }
  AddMismatches(points, points, r2);
  return r2;
}

Eigen::VectorXd Matern52Kernel::Cross(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::Ref<const Eigen::VectorXd>& x) const {
  return signal_variance_ * Correlations(ScaledSquaredDistances(points, x));
}

Eigen::MatrixXd Matern52Kernel::CrossMatrix(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::Ref<const Eigen::MatrixXd>& xs) const {
  return signal_variance_ *
         Correlations(PairwiseScaledSquaredDistances(points, xs));
}

Eigen::MatrixXd Matern52Kernel::Gram(
    const Eigen::Ref<const Eigen::MatrixXd>& points) const {
  Eigen::MatrixXd gram =
      signal_variance_ * Correlations(PairwiseScaledSquaredDistances(points));
  gram.diagonal().setConstant(signal_variance_);
  return gram;
}

Eigen::MatrixXd Matern52Kernel::CrossGradient(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::Ref<const Eigen::VectorXd>& x) const {
  const Eigen::VectorXd r2 = ScaledSquaredDistances(points, x);
  // dk/dr2 for each column, then dr2/dx_j = 2 (x_j - p_j) / l_j^2.
  const Eigen::RowVectorXd slope =
      r2.unaryExpr([](double v) { return CorrelationDerivative(v); })
          .transpose() *
      signal_variance_;
  Eigen::MatrixXd gradient = Eigen::MatrixXd::Zero(dimensions(), points.cols());
  for (int j = 0; j < dimensions(); ++j) {
    if (categorical_[j]) continue;
    gradient.row(j) = slope.array() * (x[j] - points.row(j).array()) * 2.0 *
                      inverse_squared_[j];
  }
  return gradient;
}

}  // namespace vernier::algorithms::gp
