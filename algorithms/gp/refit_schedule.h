// When the GP refits its hyperparameters, as a function of the number n of
// observations alone (so a resumed study refits where the original did).
//
// Schedule points: every n from 2 to 50, then n + ceil(n / 10) step by step
// (55, 61, 68, 75, ...): about 25 more fits up to n = 1000, so the amortised
// cost of refitting falls as n grows while the model never lags the data by
// more than 10%.
// Anchors, where a fit starts cold instead of from the previous fit: n = 2,
// 10, 20, 30, 40, 50 and every fourth geometric point.
//
// Thread-safe: pure functions.
#ifndef VERNIER_ALGORITHMS_GP_REFIT_SCHEDULE_H_
#define VERNIER_ALGORITHMS_GP_REFIT_SCHEDULE_H_

namespace vernier::algorithms::gp {

bool IsSchedulePoint(int n);
// The largest schedule point <= n; 0 when n < 2.
int LastSchedulePoint(int n);
// The schedule point before schedule point `s`; 0 for the first.
int PreviousSchedulePoint(int s);
bool IsAnchor(int s);

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_REFIT_SCHEDULE_H_
