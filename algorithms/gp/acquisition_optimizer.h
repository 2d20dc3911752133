// Maximising the acquisition over the search space.
//
// 1. Score `candidates` Sobol points of the unit cube plus, around each of
//    the incumbents (the best observed points), `local_per_incumbent`
//    Gaussian perturbations (sd 0.02 and 0.1 of the cube, alternately; each
//    categorical changed to a random category with probability 1/d). Every
//    candidate is encoded first (encoding.h), so integers, list values and
//    categories are evaluated at the cell the point decodes to.
// 2. Refine the `local_starts` best distinct candidates: L-BFGS with the
//    acquisition's analytic gradient over the continuous features (the
//    others held), then one pass of coordinate search over the other
//    features (Encoding::Neighbours), each move kept if it improves.
// 3. Return every refined point and scored candidate, best first, so the
//    caller can skip those it must not suggest (duplicates of the history).
//
// MaximiseAcquisitionNear does steps 1-3 with no Sobol points and one centre,
// and keeps only the points inside a box around it: the search inside a trust
// region of a local model (gp_algorithm.h, "second basin").
//
// With a cost penalty (cost-aware search), every score above is the
// acquisition minus weight x the cost model's mean: log EI - alpha log c
// when the cost model predicts standardised log cost, i.e. expected
// improvement per unit of cost^alpha.
//
// Deterministic for its inputs and the engine's state. Not thread-safe (the
// model is read, the engine drawn from).
#ifndef VERNIER_ALGORITHMS_GP_ACQUISITION_OPTIMIZER_H_
#define VERNIER_ALGORITHMS_GP_ACQUISITION_OPTIMIZER_H_

#include <cstdint>
#include <random>
#include <vector>

#include "Eigen/Core"
#include "algorithms/gp/acquisition.h"
#include "algorithms/gp/encoding.h"
#include "algorithms/gp/model.h"

namespace vernier::algorithms::gp {

struct OptimizerOptions {
  int candidates = 2048;
  int local_per_incumbent = 64;
  int local_starts = 5;
  // L-BFGS evaluations per start.
  int max_evaluations = 40;
};

// A model of each trial's (standardised log) cost, and how much it counts.
struct CostPenalty {
  const GpModel* model = nullptr;
  double weight = 0;
};

struct ScoredPoint {
  Eigen::VectorXd features;
  double value = 0;
};

// `incumbents` are feature vectors; `sobol_seed` picks the Sobol shift;
// `cost` is null for plain search.
std::vector<ScoredPoint> MaximiseAcquisition(
    const GpModel& model, const Encoding& encoding,
    const Acquisition& acquisition, const CostPenalty* cost,
    const std::vector<Eigen::VectorXd>& incumbents,
    const OptimizerOptions& options, uint64_t sobol_seed,
    std::mt19937_64& engine);

// Whether the numeric features of `x` (not categorical ones) are all within
// `half_width` of `centre`'s: the box of a local search.
bool InBox(const Encoding& encoding, const Eigen::VectorXd& centre,
           double half_width, const Eigen::VectorXd& x);

// As MaximiseAcquisition around `centre` alone (options.candidates is
// ignored), keeping the points whose numeric features (not categorical ones)
// are within `half_width` of the centre's. Best first; may be empty.
std::vector<ScoredPoint> MaximiseAcquisitionNear(
    const GpModel& model, const Encoding& encoding,
    const Acquisition& acquisition, const CostPenalty* cost,
    const Eigen::VectorXd& centre, double half_width,
    const OptimizerOptions& options, std::mt19937_64& engine);

// The index in `ranked` (feature vectors, best first) of the best point that
// is at least `min_distance` from ranked[0] in the kernel's scaled distance
// sqrt(r2) (kernel.h), i.e. whose correlation with the best point is below
// Correlation(min_distance^2): the best point of another basin as the model
// sees it. -1 when there is none.
int SeparatedFromBest(const std::vector<Eigen::VectorXd>& ranked,
                      const Matern52Kernel& kernel, double min_distance);

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_ACQUISITION_OPTIMIZER_H_
