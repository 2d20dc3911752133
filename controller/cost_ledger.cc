#include "controller/cost_ledger.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "controller/proto_time.h"
#include "controller/study_controller.h"
#include "trial-runner/kubernetes/job_builder.h"
#include "trial-runner/kubernetes/resource_requests.h"

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

absl::StatusOr<TrialResources> ResourcesPerTrial(const v1::StudySpec& spec) {
  const v1::WorkerSpec& worker = spec.worker();
  if (worker.kind() != v1::WorkerSpec::KUBERNETES) {
    return TrialResources{.gpus = static_cast<double>(worker.gpus_per_trial()),
                          .cpus = static_cast<double>(worker.cpus_per_trial()),
                          .memory_gb = worker.memory_gb_per_trial()};
  }
  // The Job any trial gets, its parameters left as ${params.NAME}: a request
  // that names one is then no quantity.
  kubernetes::TrialJob trial;
  trial.study = spec.name();
  trial.trial_id = 1;
  for (const v1::ParameterSpec& parameter : spec.parameters()) {
    trial.parameters[parameter.name()].set_string_value(
        absl::StrCat("${params.", parameter.name(), "}"));
  }
  absl::StatusOr<nlohmann::json> job =
      kubernetes::BuildJob(worker.kubernetes(), trial);
  if (!job.ok()) return job.status();
  absl::StatusOr<kubernetes::PodRequests> requests =
      kubernetes::PodRequestsOf(*job);
  if (!requests.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a trial's pod must request fixed quantities to be priced; its Job's ",
        requests.status().message()));
  }
  return TrialResources{.gpus = requests->gpus,
                        .cpus = requests->cpus,
                        .memory_gb = requests->memory_gb};
}

double HourlyRate(const v1::StudySpec& spec) {
  const v1::PricingSpec& pricing = spec.worker().pricing();
  absl::StatusOr<TrialResources> resources = ResourcesPerTrial(spec);
  if (!resources.ok()) return 0;
  return pricing.gpu_hour() * resources->gpus +
         pricing.cpu_hour() * resources->cpus +
         pricing.memory_gb_hour() * resources->memory_gb +
         pricing.instance_hour();
}

CostLedger::CostLedger(const v1::StudySpec& spec)
    : hourly_rate_(HourlyRate(spec)),
      kubernetes_(spec.worker().kind() == v1::WorkerSpec::KUBERNETES) {
  if (spec.has_budget()) max_cost_ = spec.budget().max_cost();
  if (spec.trials().has_max_runtime()) {
    longest_run_ = FromProto(spec.trials().max_runtime()) +
                   StopGrace(spec.trials());
  }
}

bool CostLedger::bounded() const { return longest_run_.has_value(); }

std::optional<absl::Time> CostLedger::RunStart(const v1::Trial& trial) const {
  if (trial.state() != v1::Trial::RUNNING) return std::nullopt;
  if (kubernetes_) {
    if (!trial.has_run_start_time()) return std::nullopt;
    return FromProto(trial.run_start_time());
  }
  if (!trial.has_start_time()) return std::nullopt;
  return FromProto(trial.start_time());
}

double CostLedger::AttemptCost(const v1::Trial& trial, absl::Time now) const {
  const std::optional<absl::Time> start = RunStart(trial);
  if (!start.has_value()) return 0;
  const absl::Duration held = std::max(absl::ZeroDuration(), now - *start);
  return hourly_rate_ * absl::ToDoubleHours(held);
}

double CostLedger::TrialCost(const v1::Trial& trial, absl::Time now) const {
  return trial.cost() + AttemptCost(trial, now);
}

absl::Duration CostLedger::ProjectedRuntime(
    const std::vector<const v1::Trial*>& trials) const {
  if (longest_run_.has_value()) return *longest_run_;
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
    const std::optional<absl::Time> start = RunStart(*trial);
    if (start.has_value()) balance.burn_per_hour += hourly_rate_;
    const absl::Duration elapsed =
        start.has_value() ? now - *start : absl::ZeroDuration();
    balance.committed +=
        hourly_rate_ *
        absl::ToDoubleHours(std::max(absl::ZeroDuration(), projected - elapsed));
  }
  balance.trial_cost = hourly_rate_ * absl::ToDoubleHours(projected);
  if (!max_cost_.has_value()) {
    balance.remaining = std::numeric_limits<double>::infinity();
    return balance;
  }
  balance.remaining = *max_cost_ - balance.spent - balance.committed;
  if (balance.trial_cost > 0) {
    balance.affordable_trials = static_cast<int>(
        std::max(0.0, std::floor(balance.remaining / balance.trial_cost)));
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

bool CostLedger::Exhausted(const CostBalance& balance,
                           absl::Duration lead) const {
  return max_cost_.has_value() &&
         balance.spent + balance.burn_per_hour * absl::ToDoubleHours(lead) >=
             *max_cost_;
}

}  // namespace vernier::controller
