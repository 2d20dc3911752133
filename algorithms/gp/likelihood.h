// The objective of hyperparameter fitting: the GP's log marginal likelihood
// plus Gaussian log priors on the log hyperparameters, with its analytic
// gradient.
//
// Hyperparameters are a vector theta in log space:
//   theta = [log l_1 .. log l_d, log signal_variance, log noise_variance]
// (d = the kernel's dimensions). Targets are standardised.
//
//   log p(y | theta) = -y^T K^-1 y / 2 - log|K| / 2 - n log(2 pi) / 2
//   d/d theta_i      = tr((a a^T - K^-1) dK/d theta_i) / 2,  a = K^-1 y.
//
// Thread-safe: pure functions.
#ifndef VERNIER_ALGORITHMS_GP_LIKELIHOOD_H_
#define VERNIER_ALGORITHMS_GP_LIKELIHOOD_H_

#include <vector>

#include "Eigen/Core"
#include "algorithms/gp/kernel.h"

namespace vernier::algorithms::gp {

// Independent normal priors on the log hyperparameters (natural logs).
struct HyperPrior {
  double log_lengthscale_mean = 0;
  double log_lengthscale_sd = 1;
  double log_signal_mean = 0;
  double log_signal_sd = 1;
  double log_noise_mean = 0;
  double log_noise_sd = 1;
};

// The kernel that `theta` describes.
Matern52Kernel KernelFromTheta(const std::vector<bool>& categorical,
                               const Eigen::VectorXd& theta);
double NoiseFromTheta(const Eigen::VectorXd& theta);

// log p(y | points, theta) + log prior(theta), up to the prior's constant.
// Fills `gradient` (resized to theta's size) when it is not null. -infinity
// when K is not positive definite even with a 1e-6 * signal jitter.
double LogPosterior(const Eigen::Ref<const Eigen::MatrixXd>& points,
                    const Eigen::Ref<const Eigen::VectorXd>& targets,
                    const std::vector<bool>& categorical,
                    const Eigen::VectorXd& theta, const HyperPrior& prior,
                    Eigen::VectorXd* gradient);

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_LIKELIHOOD_H_
