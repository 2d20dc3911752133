// The study loop's devices and money: GPUs and cores that trials hold
// exclusively, and the budget that admits them (see cost_ledger.h).
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controller/study_controller_impl.h"
#include "spdlog/spdlog.h"

namespace vernier::controller::internal {
namespace {

// How often the loop wakes when idle (Run's Pop timeout): the accounting tick.
constexpr absl::Duration kTick = absl::Seconds(1);

std::string Money(double amount, const std::string& currency) {
  return absl::StrFormat("%.2f %s", amount, currency);
}

}  // namespace

CostBalance StudyControllerImpl::Balance() const {
  std::vector<const v1::Trial*> trials;
  trials.reserve(trials_.size());
  for (const auto& [id, trial] : trials_) trials.push_back(&trial);
  return ledger_.Balance(trials, options_.now());
}

int StudyControllerImpl::BudgetRoom() const {
  constexpr int kAll = std::numeric_limits<int>::max();
  if (!ledger_.has_budget()) return kAll;
  const CostBalance balance = Balance();
  if (!ledger_.CanStart(balance)) return 0;
  return balance.affordable_trials.value_or(kAll);
}

bool StudyControllerImpl::AcquireFor(const v1::Trial& trial,
                                     std::string* waiting_for) {
  if (BudgetRoom() == 0) {
    *waiting_for = "room in the budget";
    return false;
  }
  HeldDevices devices;
  if (options_.run_limits != nullptr) {
    std::optional<RunLimits::Grant> slots = options_.run_limits->TryAcquire(
        study_.id(), spec().labels(), waiting_for);
    if (!slots.has_value()) return false;
    devices.run_slots = *std::move(slots);
  }
  auto give_back = [&] {
    if (options_.run_limits != nullptr) {
      options_.run_limits->Release(devices.run_slots);
    }
    if (options_.gpus != nullptr) options_.gpus->Release(devices.gpus);
  };
  const v1::WorkerSpec& worker = spec().worker();
  const std::vector<std::string> allowed_gpus(worker.gpus().begin(),
                                              worker.gpus().end());
  if (worker.gpus_per_trial() > 0) {
    std::optional<std::vector<std::string>> gpus;
    if (options_.gpus != nullptr) {
      gpus = options_.gpus->TryAcquire(study_.id(), worker.gpus_per_trial(),
                                       allowed_gpus);
    }
    if (!gpus.has_value()) {
      give_back();
      *waiting_for = absl::StrCat(worker.gpus_per_trial(), " free GPU",
                                  worker.gpus_per_trial() > 1 ? "s" : "");
      return false;
    }
    devices.gpus = *std::move(gpus);
  }
  if (worker.cpus_per_trial() > 0) {
    std::optional<std::vector<std::string>> cpus;
    if (options_.cpus != nullptr) {
      cpus = options_.cpus->TryAcquire(study_.id(), worker.cpus_per_trial(),
                                       {});
    }
    if (!cpus.has_value()) {
      give_back();
      *waiting_for = absl::StrCat(worker.cpus_per_trial(), " free CPU core",
                                  worker.cpus_per_trial() > 1 ? "s" : "");
      return false;
    }
    devices.cpus = *std::move(cpus);
  }
  held_[trial.id()] = std::move(devices);
  return true;
}

void StudyControllerImpl::AssignDevices(v1::Trial& trial,
                                        trial_runner::TrialLaunch& launch) {
  trial.clear_gpus();
  trial.clear_cpus();
  const auto it = held_.find(trial.id());
  if (it == held_.end()) return;
  const HeldDevices& devices = it->second;
  if (!devices.gpus.empty()) {
    launch.env["CUDA_VISIBLE_DEVICES"] = absl::StrJoin(devices.gpus, ",");
    for (const std::string& gpu : devices.gpus) trial.add_gpus(gpu);
  }
  for (const std::string& cpu : devices.cpus) {
    const int core = std::stoi(cpu);
    launch.cpus.push_back(core);
    trial.add_cpus(core);
  }
}

void StudyControllerImpl::ReleaseFor(int64_t trial_id) {
  const auto it = held_.find(trial_id);
  if (it == held_.end()) return;
  if (options_.gpus != nullptr) options_.gpus->Release(it->second.gpus);
  if (options_.cpus != nullptr) options_.cpus->Release(it->second.cpus);
  if (options_.run_limits != nullptr) {
    options_.run_limits->Release(it->second.run_slots);
  }
  held_.erase(it);
}

void StudyControllerImpl::ChargeAttempt(v1::Trial& trial, absl::Time end) {
  trial.set_cost(ledger_.TrialCost(trial, end));
}

void StudyControllerImpl::WithdrawFromPools() {
  if (options_.gpus != nullptr) options_.gpus->Withdraw(study_.id());
  if (options_.cpus != nullptr) options_.cpus->Withdraw(study_.id());
  if (options_.run_limits != nullptr) {
    options_.run_limits->Withdraw(study_.id());
  }
}

void StudyControllerImpl::CheckBudget() {
  if (!ledger_.has_budget() || ending_ != Ending::kNone || ask_tell()) return;
  const v1::BudgetSpec& budget = spec().budget();
  const CostBalance balance = Balance();
  const bool drain = budget.on_exhausted() == v1::BudgetSpec::DRAIN;
  // With max_runtime, admission alone keeps the spend within the budget.
  // Without it, stopping takes until the next tick plus the workers' grace:
  // start early enough that what they cost meanwhile stays within it.
  const bool stop_early = !drain && !ledger_.bounded();
  if (ledger_.Exhausted(balance, stop_early ? kTick + stop_grace()
                                            : absl::ZeroDuration())) {
    BeginEnding(Ending::kStudyEnd, v1::Study::DONE,
                v1::Study::BUDGET_EXHAUSTED,
                absl::StrCat("budget exhausted: spent ",
                             Money(balance.spent, budget.currency()), " of ",
                             Money(budget.max_cost(), budget.currency()),
                             drain ? "; running trials finish" : ""),
                /*stop_workers=*/!drain);
    return;
  }
  const StudySummary summary = Summary();
  const bool more_to_run = summary.pending > 0 ||
                           summary.created < spec().trials().max();
  if (summary.running == 0 && more_to_run && !ledger_.CanStart(balance)) {
    BeginEnding(Ending::kStudyEnd, v1::Study::DONE,
                v1::Study::BUDGET_EXHAUSTED,
                absl::StrCat("budget exhausted: the remaining ",
                             Money(balance.remaining, budget.currency()),
                             " cannot carry another trial (each may cost ",
                             Money(balance.trial_cost, budget.currency()),
                             ")"));
  }
}

}  // namespace vernier::controller::internal
