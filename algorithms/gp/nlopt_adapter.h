// The one place that calls NLopt: bound-constrained minimisation with
// L-BFGS (NLOPT_LD_LBFGS) and an analytic gradient. NLopt's exceptions stop
// here and become absl::Status.
//
// Thread-safe: each call has its own optimiser.
#ifndef VERNIER_ALGORITHMS_GP_NLOPT_ADAPTER_H_
#define VERNIER_ALGORITHMS_GP_NLOPT_ADAPTER_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"

namespace vernier::algorithms::gp {

// The value at `x`; fills `gradient` (same size as x) when it is non-empty.
// A non-finite value is read as "very bad" (+1e300, zero gradient).
using Objective = std::function<double(const std::vector<double>& x,
                                       std::vector<double>& gradient)>;

struct Minimum {
  std::vector<double> x;
  double value = 0;
  int evaluations = 0;
};

// Minimises `objective` over the box [lower, upper] from `start` (clamped into
// the box) with at most `max_evaluations` evaluations, stopping early when an
// L-BFGS step changes the value by less than `relative_tolerance` of it.
// Returns the best point evaluated, even when NLopt ends on an error (round-
// off, a failed line search), as long as one evaluation was finite; otherwise
// INTERNAL with NLopt's message. INVALID_ARGUMENT for mismatched sizes or an
// empty box.
absl::StatusOr<Minimum> MinimizeWithLbfgs(const Objective& objective,
                                          std::vector<double> start,
                                          const std::vector<double>& lower,
                                          const std::vector<double>& upper,
                                          int max_evaluations,
                                          double relative_tolerance);

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_NLOPT_ADAPTER_H_
