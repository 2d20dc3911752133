#include "algorithms/gp/fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "algorithms/gp/nlopt_adapter.h"
#include "algorithms/rng.h"
#include "spdlog/spdlog.h"

namespace vernier::algorithms::gp {

HyperPrior DefaultPrior(int dimensions) {
  HyperPrior prior;
  prior.log_lengthscale_mean =
      std::log(0.25 * std::sqrt(std::max(1, dimensions)));
  prior.log_lengthscale_sd = 0.75;
  prior.log_signal_mean = 0;
  prior.log_signal_sd = 1.5;
  prior.log_noise_mean = std::log(1e-6);
  prior.log_noise_sd = 3;
  return prior;
}

void HyperBounds(int dimensions, const FitOptions& options,
                 std::vector<double>* lower, std::vector<double>* upper) {
  lower->assign(dimensions, std::log(0.005));
  upper->assign(dimensions, std::log(4.0));
  lower->push_back(std::log(0.02));
  upper->push_back(std::log(50.0));
  lower->push_back(std::log(options.noise_floor));
  upper->push_back(std::log(std::max(2.0, options.noise_floor)));
}

Eigen::VectorXd PriorMode(int dimensions, const FitOptions& options) {
  const HyperPrior prior = DefaultPrior(dimensions);
  std::vector<double> lower, upper;
  HyperBounds(dimensions, options, &lower, &upper);
  Eigen::VectorXd theta(dimensions + 2);
  theta.head(dimensions).setConstant(prior.log_lengthscale_mean);
  theta[dimensions] = prior.log_signal_mean;
  theta[dimensions + 1] = prior.log_noise_mean;
  for (int i = 0; i < theta.size(); ++i) {
    theta[i] = std::clamp(theta[i], lower[i], upper[i]);
  }
  return theta;
}

Eigen::VectorXd FitHyperparameters(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::Ref<const Eigen::VectorXd>& targets,
    const std::vector<bool>& categorical,
    const std::optional<Eigen::VectorXd>& warm_start,
    const FitOptions& options, std::mt19937_64& engine) {
  const int d = static_cast<int>(categorical.size());
  const HyperPrior prior = DefaultPrior(d);
  std::vector<double> lower, upper;
  HyperBounds(d, options, &lower, &upper);

  std::vector<Eigen::VectorXd> starts;
  if (warm_start.has_value()) starts.push_back(*warm_start);
  starts.push_back(PriorMode(d, options));
  for (int s = 0; s < options.random_starts; ++s) {
    Eigen::VectorXd theta = PriorMode(d, options);
    for (int j = 0; j < d; ++j) {
      theta[j] = std::log(0.05) + UniformDouble(engine) * std::log(40.0);
    }
    starts.push_back(theta);
  }

  const Objective objective = [&](const std::vector<double>& x,
                                  std::vector<double>& gradient) {
    const Eigen::VectorXd theta =
        Eigen::Map<const Eigen::VectorXd>(x.data(), x.size());
    Eigen::VectorXd g;
    const double value = LogPosterior(points, targets, categorical, theta,
                                      prior, gradient.empty() ? nullptr : &g);
    if (!gradient.empty() && std::isfinite(value)) {
      for (size_t i = 0; i < gradient.size(); ++i) gradient[i] = -g[i];
    }
    return -value;
  };

  Eigen::VectorXd best = starts.front();
  double best_value = std::numeric_limits<double>::infinity();
  for (const Eigen::VectorXd& start : starts) {
    absl::StatusOr<Minimum> minimum = MinimizeWithLbfgs(
        objective, std::vector<double>(start.data(), start.data() + start.size()),
        lower, upper, options.max_evaluations, 1e-7);
    if (!minimum.ok()) {
      spdlog::debug("gp: a hyperparameter start failed: {}",
                    std::string(minimum.status().message()));
      continue;
    }
    if (minimum->value < best_value) {
      best_value = minimum->value;
      best = Eigen::Map<const Eigen::VectorXd>(minimum->x.data(),
                                               minimum->x.size());
    }
  }
  return best;
}

}  // namespace vernier::algorithms::gp
