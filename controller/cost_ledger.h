// CostLedger: what a study's trials cost, and whether its budget can carry
// one more.
//
// Every trial of a study holds the same resources (ResourcesPerTrial), so
// each accrues at one hourly rate, by the second, from the moment its worker
// runs until it ends: a local trial from its start_time, a Kubernetes trial
// from its run_start_time (its pod running; before that, waiting to be
// scheduled or for its image, it costs nothing). Trial.cost keeps what its ended attempts cost; a running trial's current
// attempt is added from start_time. The controller adds an attempt's cost to
// Trial.cost in the same write that ends the attempt, so a restarted server
// counts every attempt exactly once.
//
// Admission (DESIGN.md "Workers and cost"): a trial may start only if
//   spent + committed + the new trial's projected cost <= budget.max_cost,
// where committed is what running trials may still cost until their
// projected runtime. The projected runtime is trials.max_runtime plus the
// stop grace (a worker stopped at max_runtime holds its resources until it
// exits) when max_runtime is set: then the study never spends more than
// max_cost. Without it, it is the 90th percentile of the runtimes of trials
// that ran to their end (SUCCEEDED, FAILED, INFEASIBLE), or zero before any
// did, and the controller stops running trials when the spend would reach
// the limit before its next tick and their stop (see Exhausted).
//
// Immutable after construction; thread-safe.
#ifndef VERNIER_CONTROLLER_COST_LEDGER_H_
#define VERNIER_CONTROLLER_COST_LEDGER_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

// Where a study's money stands at one moment.
struct CostBalance {
  double spent = 0;      // every trial's cost so far
  double committed = 0;  // what running trials may still cost
  // max_cost - spent - committed; +inf without a budget.
  double remaining = 0;
  double burn_per_hour = 0;  // trials whose workers run x hourly rate
  // What one more trial may cost (rate x projected runtime); 0 when its
  // runtime cannot be projected yet.
  double trial_cost = 0;
  // How many more trials `remaining` carries at the projected cost; nullopt
  // without a budget or when a trial's cost cannot be projected yet.
  std::optional<int> affordable_trials;
  int running = 0;
};

// What one running trial holds, as PricingSpec prices it.
struct TrialResources {
  double gpus = 0;
  double cpus = 0;
  double memory_gb = 0;
};

// Local workers: worker.gpus_per_trial, cpus_per_trial, memory_gb_per_trial.
// Kubernetes workers: the container requests (nvidia.com/gpu, cpu, memory) of
// the pod of the Job a trial gets (worker.kubernetes.resources over its
// job_template). INVALID_ARGUMENT when those depend on a parameter or are
// not quantities: a study's trials must cost alike.
absl::StatusOr<TrialResources> ResourcesPerTrial(const v1::StudySpec& spec);

// What one running trial of `spec` costs per hour: its resources times
// worker.pricing, plus instance_hour; 0 when ResourcesPerTrial fails.
double HourlyRate(const v1::StudySpec& spec);

class CostLedger {
 public:
  explicit CostLedger(const v1::StudySpec& spec);

  bool has_budget() const { return max_cost_.has_value(); }
  // What one running trial costs per hour.
  double hourly_rate() const { return hourly_rate_; }
  // True when every trial's runtime is capped (trials.max_runtime): the
  // admission rule alone keeps the spend within the budget.
  bool bounded() const;
  // When the current attempt of a RUNNING trial began to cost; nullopt while
  // its worker waits to run.
  std::optional<absl::Time> RunStart(const v1::Trial& trial) const;

  // What `trial` has cost by `now`: its ended attempts, plus the current one
  // while it runs.
  double TrialCost(const v1::Trial& trial, absl::Time now) const;
  // What the current attempt of a RUNNING trial has cost by `now`; 0 for a
  // trial that is not running or whose worker does not run yet.
  double AttemptCost(const v1::Trial& trial, absl::Time now) const;

  CostBalance Balance(const std::vector<const v1::Trial*>& trials,
                      absl::Time now) const;

  // True when the budget carries one more trial to its projected runtime.
  bool CanStart(const CostBalance& balance) const;
  // True when the spend reaches max_cost within `lead` at the current burn
  // rate: the controller stops running trials then, with `lead` its tick
  // plus the stop grace, so that their cost stays within the budget.
  bool Exhausted(const CostBalance& balance,
                 absl::Duration lead = absl::ZeroDuration()) const;

  // A trial's projected runtime given the ended trials' runtimes: the
  // study's max_runtime, else their 90th percentile, else zero.
  absl::Duration ProjectedRuntime(
      const std::vector<const v1::Trial*>& trials) const;

 private:
  double hourly_rate_ = 0;
  // Trials cost from run_start_time, not start_time.
  bool kubernetes_ = false;
  std::optional<double> max_cost_;
  // max_runtime plus the stop grace, when max_runtime is set.
  std::optional<absl::Duration> longest_run_;
};

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_COST_LEDGER_H_
