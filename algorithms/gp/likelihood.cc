#include "algorithms/gp/likelihood.h"

#include <cmath>
#include <limits>
#include <numbers>

#include "Eigen/Cholesky"

namespace vernier::algorithms::gp {

Matern52Kernel KernelFromTheta(const std::vector<bool>& categorical,
                               const Eigen::VectorXd& theta) {
  const int d = static_cast<int>(categorical.size());
  return Matern52Kernel(categorical, theta.head(d).array().exp().matrix(),
                        std::exp(theta[d]));
}

double NoiseFromTheta(const Eigen::VectorXd& theta) {
  return std::exp(theta[theta.size() - 1]);
}

double LogPosterior(const Eigen::Ref<const Eigen::MatrixXd>& points,
                    const Eigen::Ref<const Eigen::VectorXd>& targets,
                    const std::vector<bool>& categorical,
                    const Eigen::VectorXd& theta, const HyperPrior& prior,
                    Eigen::VectorXd* gradient) {
  const int d = static_cast<int>(categorical.size());
  const Eigen::Index n = points.cols();
  const Matern52Kernel kernel = KernelFromTheta(categorical, theta);
  const double signal = kernel.signal_variance();
  const double noise = NoiseFromTheta(theta);

  // r2 for every pair, then the Gram matrix from it.
  const Eigen::MatrixXd r2 = kernel.PairwiseScaledSquaredDistances(points);
  Eigen::MatrixXd gram = signal * Matern52Kernel::Correlations(r2);
  gram.diagonal().setConstant(signal);
  Eigen::LLT<Eigen::MatrixXd> llt;
  bool factorised = false;
  for (double jitter = 0; !factorised && jitter <= 1e-6 * signal;
       jitter = jitter == 0 ? 1e-10 * signal : jitter * 10) {
    Eigen::MatrixXd k = gram;
    k.diagonal().array() += noise + jitter;
    llt.compute(k);
    factorised = llt.info() == Eigen::Success;
  }
  if (!factorised) {
    return -std::numeric_limits<double>::infinity();
  }
  const Eigen::VectorXd alpha = llt.solve(targets);
  const double log_det = 2.0 * llt.matrixLLT().diagonal().array().log().sum();
  double value = -0.5 * targets.dot(alpha) - 0.5 * log_det -
                 0.5 * static_cast<double>(n) * std::log(2 * std::numbers::pi);

  if (gradient != nullptr) *gradient = Eigen::VectorXd::Zero(theta.size());
  auto add_prior = [&](int i, double mean, double sd) {
    const double z = (theta[i] - mean) / sd;
    value -= 0.5 * z * z;
    if (gradient != nullptr) (*gradient)[i] -= z / sd;
  };
  for (int j = 0; j < d; ++j) {
    add_prior(j, prior.log_lengthscale_mean, prior.log_lengthscale_sd);
  }
  add_prior(d, prior.log_signal_mean, prior.log_signal_sd);
  add_prior(d + 1, prior.log_noise_mean, prior.log_noise_sd);
  if (gradient == nullptr) return value;

  // W = a a^T - K^-1; d/d theta_i = sum(W .* dK/d theta_i) / 2.
  Eigen::MatrixXd w = Eigen::MatrixXd::Identity(n, n);
  llt.solveInPlace(w);
  w *= -1.0;
  w.noalias() += alpha * alpha.transpose();
  (*gradient)[d] += 0.5 * (w.array() * gram.array()).sum();
  (*gradient)[d + 1] += 0.5 * noise * w.trace();
  // dK_ab/d log l_j = signal * c'(r2_ab) * (-2 D_j,ab / l_j^2), where D is the
  // squared difference (or the mismatch) in dimension j; so the gradient needs
  // S_j = sum_ab M_ab D_j,ab with M = W .* c'(r2) * signal.
  const Eigen::MatrixXd m =
      (w.array() * Matern52Kernel::CorrelationDerivatives(r2).array() * signal)
          .matrix();
  // Numeric j: S_j = sum_a x_a^2 rowsum(M)_a + sum_b x_b^2 colsum(M)_b
  // - 2 x^T M x, for all j at once (one matrix product instead of an
  // O(n^2 d) loop). Coordinates are centred first, which leaves S_j as it is
  // but keeps the terms small, so they cancel less.
  const Eigen::VectorXd row_sums = m.rowwise().sum();
  const Eigen::VectorXd column_sums = m.colwise().sum().transpose();
  const Eigen::MatrixXd centred = points.colwise() - points.rowwise().mean();
  const Eigen::MatrixXd squares = centred.array().square().matrix();
  const Eigen::MatrixXd centred_m = centred * m;
  const Eigen::VectorXd numeric_sums =
      squares * row_sums + squares * column_sums -
      2.0 * (centred_m.array() * centred.array()).rowwise().sum().matrix();
  for (int j = 0; j < d; ++j) {
    double sum = numeric_sums[j];
    if (categorical[j]) {
      // Categorical j: S_j = sum of M over the pairs whose categories differ.
      sum = (m.array() * (points.row(j).transpose().replicate(1, n).array() !=
                          points.row(j).replicate(n, 1).array())
                             .cast<double>())
                .sum();
    }
    const double inverse_squared =
        1.0 / (kernel.lengthscales()[j] * kernel.lengthscales()[j]);
    (*gradient)[j] += 0.5 * sum * (-2.0 * inverse_squared);
  }
  return value;
}

}  // namespace vernier::algorithms::gp
