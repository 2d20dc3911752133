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
  Eigen::MatrixXd r2(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    r2(i, i) = 0;
    for (Eigen::Index k = i + 1; k < n; ++k) {
      r2(i, k) = r2(k, i) =
          kernel.ScaledSquaredDistance(points.col(i), points.col(k));
    }
  }
  const Eigen::MatrixXd gram =
      r2.unaryExpr([](double v) { return Matern52Kernel::Correlation(v); }) *
      signal;
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
  Eigen::MatrixXd w = -llt.solve(Eigen::MatrixXd::Identity(n, n));
  w.noalias() += alpha * alpha.transpose();
  (*gradient)[d] += 0.5 * (w.array() * gram.array()).sum();
  (*gradient)[d + 1] += 0.5 * noise * w.trace();
  // dK_ab/d log l_j = signal * c'(r2_ab) * (-2 D_j,ab / l_j^2), where D is the
  // squared difference (or the mismatch) in dimension j.
  const Eigen::MatrixXd m =
      w.array() *
      r2.unaryExpr([](double v) {
          return Matern52Kernel::CorrelationDerivative(v);
        }).array() *
      signal;
  for (int j = 0; j < d; ++j) {
    const double inverse_squared = 1.0 / (kernel.lengthscales()[j] *
                                          kernel.lengthscales()[j]);
    double sum = 0;
    for (Eigen::Index b = 0; b < n; ++b) {
      const double xb = points(j, b);
      for (Eigen::Index a = 0; a < n; ++a) {
        const double diff = points(j, a) - xb;
        const double dj = categorical[j] ? (diff != 0 ? 1.0 : 0.0) : diff * diff;
        sum += m(a, b) * dj;
      }
    }
    (*gradient)[j] += 0.5 * sum * (-2.0 * inverse_squared);
  }
  return value;
}

}  // namespace vernier::algorithms::gp
