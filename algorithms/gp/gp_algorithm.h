// `gp`: Bayesian optimisation with a Gaussian process (DESIGN.md
// "Algorithms"). Settings: gp_settings.h.
//
// Each suggestion:
//  - The history is read afresh. Trials with a finite objective (SUCCEEDED,
//    or STOPPED with an objective) are observations; INFEASIBLE trials (and
//    any with a non-finite objective) are observations of the worst value
//    observed, so the model steers away from their region; FAILED trials
//    (and STOPPED ones without an objective) teach no value but, like
//    PENDING and RUNNING ones, are fantasies, added as observations for this
//    suggestion only: the model's own mean at their point (kriging believer),
//    or the mean of the observations where the model predicts better (a
//    constant liar there), so a batch does not pile up where the model
//    expects improvement.
//    Each point chosen for the batch becomes a fantasy for the next, so a
//    batch spreads out. No assignment of the history or the batch is ever
//    suggested again (SearchSpace::Key).
//  - Targets are warped by log1p((y - best) / median(y - best)) (monotone;
//    it tames heavy tails of bad values), then standardised.
//  - Observations are ordered by (end time, number): the order in which a
//    running study learns them, so a growing history only appends.
//  - The first `initial_trials` trials (or until two finite objectives
//    exist) come from a scrambled Sobol design, point i for the i-th trial.
//  - Hyperparameters are refitted on a schedule that depends only on the
//    number n of observations: at every n up to 50, then 10% further each time
//    (refit_schedule.h). Each fit is warm-started from the fit at the previous
//    schedule point, except at anchors (n = 2, 10, 20, 30, 40, 50 and every
//    fourth geometric point), which start cold from the prior and random
//    starts. Fits use at most 160 observations (the 80 best and the 80
//    latest of the rest), which bounds a refit's cost.
//  - Between refits the Cholesky factor grows by one row per observation
//    (O(n^2)); at a refit it is rebuilt from the observations up to that
//    schedule point and then grown again.
//
// Second-basin search (settings.second_basin, on by default): log EI under
// one global GP with ARD length scales grows greedy once the model is sure,
// and data from one basin can teach it that a parameter does not matter
// anywhere (Hartmann6's -3.20 optimum ignores two of its six), so a better
// basin elsewhere looks bad and is never refined. So, once the best value
// has not improved for 10 observations, every even-numbered trial (at most
// one per batch) is a step of local search, as in TuRBO (Eriksson et al.,
// "Scalable global optimization via local Bayesian optimization", 2019):
// around the best observation whose scaled distance (under the global
// model's length scales) to the best one is at least 2, a GP fitted afresh
// to its 30 nearest observations (own hyperparameters, reported like any
// fit), its acquisition maximised in a box of half-width 0.2 of the unit
// cube around it (acquisition_optimizer.h). There is no such step while no
// observation is that far from the best, or while a pending trial lies in
// that box (a step in flight). The other trials, and every trial until the
// search stalls, are as above.
//
// Cost-aware search (settings.cost_aware): a second GP models the log cost
// of the trials that ran to their end (SUCCEEDED, INFEASIBLE): Trial.cost
// when every one of them has a cost (the study prices its trials), else
// their runtime in seconds. Its hyperparameters are refitted on the same
// schedule, over the latest 160 such trials. The acquisition becomes
// log EI(x) - alpha E[log cost(x)], expected improvement per unit of
// cost^alpha, with cost cooling (Lee et al., "Cost-aware Bayesian
// optimization", 2020): alpha = (max_cost - spent) / (max_cost - what the
// initial design cost), 1 without a budget, so cheap points go first and, as
// the budget runs out, the search returns to plain EI. Without two costs that
// differ, the search is plain.
//
// Determinism: every quantity above is a function of the seed and the
// history alone. The instance memoises fits and the factor, keyed by the
// exact sequence of observations they were computed from, and reuses them
// only when that sequence is a prefix of the new history's, so a fresh
// instance given a history (a resumed study) suggests exactly what an
// instance that watched it grow suggests; a fresh instance redoes at most
// the fits since the last anchor.
//
// Thread-safe: Suggest serialises on a mutex.
#ifndef VERNIER_ALGORITHMS_GP_GP_ALGORITHM_H_
#define VERNIER_ALGORITHMS_GP_GP_ALGORITHM_H_

#include <memory>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"

namespace vernier::algorithms {

// INVALID_ARGUMENT "settings.NAME: ..." for a bad or unknown setting.
absl::StatusOr<std::unique_ptr<Algorithm>> CreateGpAlgorithm(
    const AlgorithmContext& context);

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_GP_GP_ALGORITHM_H_
