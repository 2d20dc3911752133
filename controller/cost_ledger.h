// CostLedger: what a study's trials cost, and whether its budget can carry
// one more.
//
// Every trial of a study holds the same resources (worker.gpus_per_trial,
// cpus_per_trial, memory_gb_per_trial, or one instance), so each accrues at
// one hourly rate, by the second, from its start_time until its worker ends.
// Trial.cost keeps what its ended attempts cost; a running trial's current
// attempt is added from start_time. The controller adds an attempt's cost to
// Trial.cost in the same write that ends the attempt, so a restarted server
// counts every attempt exactly once.
//
// Admission (DESIGN.md "Workers and cost"): a trial may start only if
//   spent + committed + the new trial's projected cost <= budget.max_cost,
// where committed is what running trials may still cost until their
// projected runtime. The projected runtime is trials.max_runtime when set
// (then the study never spends more than max_cost), else the 90th
// percentile of the runtimes of trials that ran to their end (SUCCEEDED,
// FAILED, INFEASIBLE), or zero before any did: then running trials are
// stopped once the spend reaches the limit, one accounting tick late at
// most.
//
// Immutable after construction; thread-safe.
#ifndef VERNIER_CONTROLLER_COST_LEDGER_H_
#define VERNIER_CONTROLLER_COST_LEDGER_H_

#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

// Where a study's money stands at one moment.
struct CostBalance {
  double spent = 0;      // every trial's cost so far
  double committed = 0;  // what running trials may still cost
  // max_cost - spent - committed; +inf without a budget.
  double remaining = 0;
  double burn_per_hour = 0;  // running trials x hourly rate
  // How many more trials `remaining` carries at the projected cost; nullopt
  // without a budget or when a trial's cost cannot be projected yet.
  std::optional<int> affordable_trials;
  int running = 0;
};

class CostLedger {
 public:
  explicit CostLedger(const v1::StudySpec& spec);

  bool has_budget() const { return max_cost_.has_value(); }
  // What one running trial costs per hour.
  double hourly_rate() const { return hourly_rate_; }

  // What `trial` has cost by `now`: its ended attempts, plus the current one
  // while it runs.
  double TrialCost(const v1::Trial& trial, absl::Time now) const;
  // What the current attempt of a RUNNING trial has cost by `now`; 0 for a
  // trial that is not running.
  double AttemptCost(const v1::Trial& trial, absl::Time now) const;

  CostBalance Balance(const std::vector<const v1::Trial*>& trials,
                      absl::Time now) const;

  // True when the budget carries one more trial to its projected runtime.
  bool CanStart(const CostBalance& balance) const;
  // True when the spend has reached max_cost.
  bool Exhausted(const CostBalance& balance) const;

  // A trial's projected runtime given the ended trials' runtimes: the
  // study's max_runtime, else their 90th percentile, else zero.
  absl::Duration ProjectedRuntime(
      const std::vector<const v1::Trial*>& trials) const;

 private:
  double hourly_rate_ = 0;
  std::optional<double> max_cost_;
  std::optional<absl::Duration> max_runtime_;
};

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_COST_LEDGER_H_
