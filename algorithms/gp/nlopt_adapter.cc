#include "algorithms/gp/nlopt_adapter.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlopt.hpp"

namespace vernier::algorithms::gp {
namespace {

constexpr double kBad = 1e300;

// What NLopt's C callback sees: the objective and the best point so far.
struct Tracker {
  const Objective* objective;
  Minimum best;
};

double Trampoline(unsigned n, const double* x, double* gradient, void* data) {
  auto* tracker = static_cast<Tracker*>(data);
  const std::vector<double> point(x, x + n);
  std::vector<double> g(gradient != nullptr ? n : 0);
  double value = (*tracker->objective)(point, g);
  ++tracker->best.evaluations;
  const bool finite =
      std::isfinite(value) &&
      std::all_of(g.begin(), g.end(), [](double v) { return std::isfinite(v); });
  if (!finite) {
    value = kBad;
    std::fill(g.begin(), g.end(), 0.0);
  }
  if (gradient != nullptr) std::copy(g.begin(), g.end(), gradient);
  if (finite && value < tracker->best.value) {
    tracker->best.value = value;
    tracker->best.x = point;
  }
  return value;
}

}  // namespace

absl::StatusOr<Minimum> MinimizeWithLbfgs(const Objective& objective,
                                          std::vector<double> start,
                                          const std::vector<double>& lower,
                                          const std::vector<double>& upper,
                                          int max_evaluations,
                                          double relative_tolerance) {
  const size_t n = start.size();
  if (n == 0 || lower.size() != n || upper.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("L-BFGS needs a start and bounds of one size (", n, ", ",
                     lower.size(), ", ", upper.size(), ")"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!(lower[i] <= upper[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("L-BFGS bound ", i, " is empty"));
    }
    start[i] = std::clamp(start[i], lower[i], upper[i]);
  }
  Tracker tracker{&objective, {start, std::numeric_limits<double>::infinity(), 0}};
  std::string error;
  try {
    nlopt::opt optimiser(nlopt::LD_LBFGS, static_cast<unsigned>(n));
    optimiser.set_lower_bounds(lower);
    optimiser.set_upper_bounds(upper);
    optimiser.set_min_objective(Trampoline, &tracker);
    optimiser.set_maxeval(std::max(1, max_evaluations));
    optimiser.set_ftol_rel(relative_tolerance);
    double value = 0;
    optimiser.optimize(start, value);
  } catch (const std::exception& e) {
    // Round-off and failed line searches end L-BFGS near a minimum; the best
    // point seen is still good. Anything else is reported if nothing was.
    error = e.what();
  }
  if (!std::isfinite(tracker.best.value)) {
    return absl::InternalError(absl::StrCat(
        "L-BFGS found no finite value",
        error.empty() ? "" : absl::StrCat(" (NLopt: ", error, ")")));
  }
  return tracker.best;
}

}  // namespace vernier::algorithms::gp
