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
      signal_variance_(signal_variance) {}

double Matern52Kernel::Correlation(double r2) {
  const double s = std::sqrt(5.0 * r2);
  return (1.0 + s + s * s / 3.0) * std::exp(-s);
}

double Matern52Kernel::CorrelationDerivative(double r2) {
  const double s = std::sqrt(5.0 * r2);
  return -(5.0 / 6.0) * (1.0 + s) * std::exp(-s);
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

Eigen::VectorXd Matern52Kernel::Cross(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::Ref<const Eigen::VectorXd>& x) const {
  Eigen::VectorXd r2 = ScaledSquaredDistances(points, x);
  return r2.unaryExpr([](double v) { return Correlation(v); }) *
         signal_variance_;
}

Eigen::MatrixXd Matern52Kernel::Gram(
    const Eigen::Ref<const Eigen::MatrixXd>& points) const {
  const Eigen::Index n = points.cols();
  Eigen::MatrixXd gram(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    gram(i, i) = signal_variance_;
    for (Eigen::Index k = i + 1; k < n; ++k) {
      const double value =
          signal_variance_ *
          Correlation(ScaledSquaredDistance(points.col(i), points.col(k)));
      gram(i, k) = value;
      gram(k, i) = value;
    }
  }
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
