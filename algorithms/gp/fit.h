// Hyperparameter fitting: the maximum a posteriori theta (likelihood.h) by
// L-BFGS (nlopt_adapter.h) from several starts inside fixed bounds.
//
// Bounds, in the unit cube of the search space and standardised outputs:
//   length scales     [0.005, 4] (longer is flat across the cube anyway)
//   signal variance   [0.02, 50]
//   noise variance    [noise_floor, 2]
// Priors (normal on the natural log): length scale mean log(0.25 sqrt(d)),
// sd 0.75 (so short scales need evidence, more so in high dimension); signal
// mean 0, sd 1.5; noise mean log(1e-6), sd 3 (weak: the data decide whether
// the objective is noisy; a larger prior noise would make fantasies (see
// gp_algorithm.h) leave so much variance that a batch piles up).
//
// Starts: the warm start when given (the previous fit), the prior's mode, then
// `random_starts` draws from `engine` (length scales log-uniform on
// [0.05, 2]). The best end point wins; if every start fails, the warm start
// or the prior mode is returned. Deterministic for its inputs and the
// engine's state.
#ifndef VERNIER_ALGORITHMS_GP_FIT_H_
#define VERNIER_ALGORITHMS_GP_FIT_H_

#include <optional>
#include <random>
#include <vector>

#include "Eigen/Core"
#include "algorithms/gp/likelihood.h"

namespace vernier::algorithms::gp {

struct FitOptions {
  // Lower bound of the noise variance, in standardised units.
  double noise_floor = 1e-6;
  int random_starts = 1;
  // Per start.
  int max_evaluations = 60;
};

HyperPrior DefaultPrior(int dimensions);
// The prior's mode, clamped into the bounds.
Eigen::VectorXd PriorMode(int dimensions, const FitOptions& options);
// theta's bounds (size dimensions + 2).
void HyperBounds(int dimensions, const FitOptions& options,
                 std::vector<double>* lower, std::vector<double>* upper);

Eigen::VectorXd FitHyperparameters(
    const Eigen::Ref<const Eigen::MatrixXd>& points,
    const Eigen::Ref<const Eigen::VectorXd>& targets,
    const std::vector<bool>& categorical,
    const std::optional<Eigen::VectorXd>& warm_start,
    const FitOptions& options, std::mt19937_64& engine);

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_FIT_H_
