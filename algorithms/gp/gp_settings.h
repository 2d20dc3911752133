// The settings of the `gp` algorithm (v1::AlgorithmSpec::settings), each
// with its default:
//
//   initial_trials  integer 1..10000; default max(5, 2 (d + 1)) for d
//                   parameters. Trials drawn from a scrambled Sobol design
//                   before the GP takes over (it also waits for two finite
//                   objectives).
//   acquisition     "log_ei" (default) or "ucb".
//   beta            number in (0, 1000]; default 2. Only with "ucb": the
//                   bound is mean - sqrt(beta) sd (minimising).
//   noise_floor     number in [1e-10, 0.1]; default 1e-6. The smallest noise
//                   variance the model may fit, relative to the objective's
//                   variance; raise it for noisy objectives.
//   candidates      integer 64..65536; default 2048. Quasi-random points
//                   scored per suggestion before the best are refined (fewer
//                   past 300 observations, in proportion to 1/n^2, to bound
//                   the cost; never fewer than 256).
//   cost_aware      boolean; default false. Models each trial's cost with a
//                   second GP (on log cost: Trial.cost when the study prices
//                   its trials, else its runtime) and maximises expected
//                   improvement per unit of cost, so cheap promising
//                   configurations go first. Only with "log_ei".
//   second_basin    boolean; default true. Once the best value has stalled
//                   for 10 observations, every even-numbered trial (at most
//                   one per batch) is a step of local search in the best
//                   basin other than the best one's (gp_algorithm.h), so a
//                   search that settled in a local optimum can still find a
//                   better one elsewhere. false: plain log EI (or UCB)
//                   throughout.
//
// Thread-safe: pure functions.
#ifndef VERNIER_ALGORITHMS_GP_GP_SETTINGS_H_
#define VERNIER_ALGORITHMS_GP_GP_SETTINGS_H_

#include "absl/status/statusor.h"
#include "algorithms/gp/acquisition.h"
#include "google/protobuf/struct.pb.h"

namespace vernier::algorithms::gp {

struct GpSettings {
  int initial_trials = 5;
  AcquisitionKind acquisition = AcquisitionKind::kLogEi;
  double beta = 2;
  double noise_floor = 1e-6;
  int candidates = 2048;
  bool cost_aware = false;
  bool second_basin = true;
};

// The settings with defaults filled in for a space of `dimensions`
// parameters, or INVALID_ARGUMENT "settings.NAME: what is wrong" for the
// first bad or unknown setting in sorted order.
absl::StatusOr<GpSettings> ParseGpSettings(
    const google::protobuf::Struct& settings, int dimensions);

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_GP_SETTINGS_H_
