// The ARD Matérn-5/2 kernel of the GP, on encoded points (see encoding.h).
//
//   k(a, b) = signal_variance * (1 + s + s^2/3) * exp(-s),  s = sqrt(5 r2),
//   r2 = sum over numeric dimensions j of ((a_j - b_j) / l_j)^2
//      + sum over categorical dimensions j of [a_j != b_j] / l_j^2.
//
// One length scale per parameter (ARD). A categorical coordinate holds the
// category's index and is only ever compared for equality (a Hamming-style
// factor, equivalent to one-hot coordinates with a shared length scale), so
// category order carries no meaning. Points are the columns of a matrix.
//
// The matrix forms (PairwiseScaledSquaredDistances, CrossMatrix, Gram) compute
// the numeric part of r2 for all pairs at once as |a|^2 + |b|^2 - 2 a.b on
// coordinates centred and divided by the length scales (one matrix product),
// and the correlation with vectorised sqrt and exp. They agree with the
// per-pair definition to round-off (about 1e-15 relative to the squared
// scaled extent of the points), r2 is clamped at 0, and a point's distance to
// itself in Gram is exactly 0.
//
// Thread-safe: immutable after construction.
#ifndef VERNIER_ALGORITHMS_GP_KERNEL_H_
#define VERNIER_ALGORITHMS_GP_KERNEL_H_

#include <vector>

#include "Eigen/Core"

namespace vernier::algorithms::gp {

class Matern52Kernel final {
 public:
  // `lengthscales` (> 0) has one entry per dimension, as `categorical`.
  Matern52Kernel(std::vector<bool> categorical, Eigen::VectorXd lengthscales,
                 double signal_variance);

  // (1 + s + s^2/3) exp(-s) with s = sqrt(5 r2): the correlation at r2 >= 0.
  static double Correlation(double r2);
  // Its derivative with respect to r2: -(5/6) (1 + s) exp(-s).
  static double CorrelationDerivative(double r2);
  // The two above for every entry of `r2` (entries >= 0), vectorised.
  static Eigen::MatrixXd Correlations(
      const Eigen::Ref<const Eigen::MatrixXd>& r2);
  static Eigen::MatrixXd CorrelationDerivatives(
      const Eigen::Ref<const Eigen::MatrixXd>& r2);

  int dimensions() const { return static_cast<int>(categorical_.size()); }
  const std::vector<bool>& categorical() const { return categorical_; }
  const Eigen::VectorXd& lengthscales() const { return lengthscales_; }
  double signal_variance() const { return signal_variance_; }

  // r2 between two points.
  double ScaledSquaredDistance(const Eigen::Ref<const Eigen::VectorXd>& a,
                               const Eigen::Ref<const Eigen::VectorXd>& b) const;
  // r2 from `x` to every column of `points`.
  Eigen::VectorXd ScaledSquaredDistances(
      const Eigen::Ref<const Eigen::MatrixXd>& points,
      const Eigen::Ref<const Eigen::VectorXd>& x) const;

  // r2 between column i of `a` and column c of `b` as entry (i, c).
  Eigen::MatrixXd PairwiseScaledSquaredDistances(
      const Eigen::Ref<const Eigen::MatrixXd>& a,
      const Eigen::Ref<const Eigen::MatrixXd>& b) const;
  // r2 between the columns of `points`: symmetric, with a zero diagonal.
  Eigen::MatrixXd PairwiseScaledSquaredDistances(
      const Eigen::Ref<const Eigen::MatrixXd>& points) const;

  // k(x, column i) for every column.
  Eigen::VectorXd Cross(const Eigen::Ref<const Eigen::MatrixXd>& points,
                        const Eigen::Ref<const Eigen::VectorXd>& x) const;
  // k(column i of `points`, column c of `xs`) as entry (i, c).
  Eigen::MatrixXd CrossMatrix(
      const Eigen::Ref<const Eigen::MatrixXd>& points,
      const Eigen::Ref<const Eigen::MatrixXd>& xs) const;
  // The covariance of the columns with each other (no noise).
  Eigen::MatrixXd Gram(const Eigen::Ref<const Eigen::MatrixXd>& points) const;
  // d k(x, column i) / d x_j as entry (j, i); zero for categorical j.
  Eigen::MatrixXd CrossGradient(
      const Eigen::Ref<const Eigen::MatrixXd>& points,
      const Eigen::Ref<const Eigen::VectorXd>& x) const;

 private:
  // The numeric coordinates of `points` (rows in numeric_dims_ order), less
  // `centre`, divided by their length scales.
  Eigen::MatrixXd ScaledNumeric(const Eigen::Ref<const Eigen::MatrixXd>& points,
                                const Eigen::VectorXd& centre) const;
  // The numeric coordinates' mean over the columns of `points` (0 if none).
  Eigen::VectorXd NumericCentre(
      const Eigen::Ref<const Eigen::MatrixXd>& points) const;
  // Adds the categorical part of r2 between columns of `a` and `b`.
  void AddMismatches(const Eigen::Ref<const Eigen::MatrixXd>& a,
                     const Eigen::Ref<const Eigen::MatrixXd>& b,
                     Eigen::MatrixXd& r2) const;

  std::vector<bool> categorical_;
  Eigen::VectorXd lengthscales_;
  Eigen::VectorXd inverse_squared_;  // 1 / l_j^2
  // The indices of the numeric and of the categorical dimensions.
  std::vector<int> numeric_dims_;
  std::vector<int> categorical_dims_;
  // 1 / l_j of the numeric dimensions, in numeric_dims_ order.
  Eigen::VectorXd numeric_inverse_;
  double signal_variance_;
};

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_KERNEL_H_
