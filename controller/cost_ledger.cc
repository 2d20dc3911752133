#include "controller/cost_ledger.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "controller/proto_time.h"

namespace vernier::controller {
namespace {

// The share of ended trials' runtimes a projection covers.
constexpr double kRuntimeQuantile = 0.9;

bool RanToItsEnd(const v1::Trial& trial) {
  switch (trial.state()) {
    case v1::Trial::SUCCEEDED:
    case v1::Trial::FAILED:
    case v1::Trial::INFEASIBLE:
      return trial.has_start_time() && trial.has_end_time();
    default:
      return false;
  }
}

}  // namespace

CostLedger::CostLedger(const v1::StudySpec& spec) {
  const v1::WorkerSpec& worker = spec.worker();
  const v1::PricingSpec& pricing = worker.pricing();
  hourly_rate_ = pricing.gpu_hour() * worker.gpus_per_trial() +
                 pricing.cpu_hour() * worker.cpus_per_trial() +
                 pricing.memory_gb_hour() * worker.memory_gb_per_trial() +
                 pricing.instance_hour();
  if (spec.has_budget()) max_cost_ = spec.budget().max_cost();
  if (spec.trials().has_max_runtime()) {
    max_runtime_ = FromProto(spec.trials().max_runtime());
  }
}

double CostLedger::AttemptCost(const v1::Trial& trial, absl::Time now) const {
  if (trial.state() != v1::Trial::RUNNING || !trial.has_start_time()) return 0;
  const absl::Duration held =
      std::max(absl::ZeroDuration(), now - FromProto(trial.start_time()));
  return hourly_rate_ * absl::ToDoubleHours(held);
}

double CostLedger::TrialCost(const v1::Trial& trial, absl::Time now) const {
  return trial.cost() + AttemptCost(trial, now);
}

absl::Duration CostLedger::ProjectedRuntime(
    const std::vector<const v1::Trial*>& trials) const {
  if (max_runtime_.has_value()) return *max_runtime_;
  std::vector<absl::Duration> runtimes;
  for (const v1::Trial* trial : trials) {
    if (!RanToItsEnd(*trial)) continue;
    runtimes.push_back(FromProto(trial->end_time()) -
                       FromProto(trial->start_time()));
  }
  if (runtimes.empty()) return absl::ZeroDuration();
  std::sort(runtimes.begin(), runtimes.end());
  // Nearest rank.
  const size_t rank = static_cast<size_t>(
      std::ceil(kRuntimeQuantile * static_cast<double>(runtimes.size())));
  return runtimes[std::max<size_t>(rank, 1) - 1];
}

CostBalance CostLedger::Balance(const std::vector<const v1::Trial*>& trials,
                                absl::Time now) const {
  CostBalance balance;
  const absl::Duration projected = ProjectedRuntime(trials);
  for (const v1::Trial* trial : trials) {
    balance.spent += TrialCost(*trial, now);
    if (trial->state() != v1::Trial::RUNNING) continue;
    ++balance.running;
    const absl::Duration elapsed =
        trial->has_start_time() ? now - FromProto(trial->start_time())
                                : absl::ZeroDuration();
    balance.committed +=
        hourly_rate_ *
        absl::ToDoubleHours(std::max(absl::ZeroDuration(), projected - elapsed));
  }
  balance.burn_per_hour = hourly_rate_ * balance.running;
  if (!max_cost_.has_value()) {
    balance.remaining = std::numeric_limits<double>::infinity();
    return balance;
  }
  balance.remaining = *max_cost_ - balance.spent - balance.committed;
  const double per_trial = hourly_rate_ * absl::ToDoubleHours(projected);
  if (per_trial > 0) {
    balance.affordable_trials = static_cast<int>(
        std::max(0.0, std::floor(balance.remaining / per_trial)));
  }
  return balance;
}

bool CostLedger::CanStart(const CostBalance& balance) const {
  if (!max_cost_.has_value()) return true;
  if (Exhausted(balance)) return false;
  if (balance.affordable_trials.has_value()) {
    return *balance.affordable_trials >= 1;
  }
  // Nothing to project a trial's cost from yet: whatever remains may start
  // one, and the limit is enforced by stopping.
  return balance.remaining > 0;
}

bool CostLedger::Exhausted(const CostBalance& balance) const {
  return max_cost_.has_value() && balance.spent >= *max_cost_;
}

}  // namespace vernier::controller
