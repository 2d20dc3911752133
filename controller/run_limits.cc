#include "controller/run_limits.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vernier::controller {
namespace {

std::vector<std::string> Slots(int count) {
  std::vector<std::string> slots;
  for (int i = 0; i < count; ++i) slots.push_back(absl::StrCat("slot-", i));
  return slots;
}

}  // namespace

absl::Status AddLabelCap(absl::string_view text, RunLimitsSpec& spec) {
  const size_t equals = text.find('=');
  if (equals == absl::string_view::npos || equals == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not LABEL=N (say team=8: at most 8 running trials "
        "for each team)"));
  }
  const std::string label(text.substr(0, equals));
  int cap = 0;
  if (!absl::SimpleAtoi(text.substr(equals + 1), &cap) || cap < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "': the cap must be a whole number of at least 1"));
  }
  if (!spec.max_running_per_label.emplace(label, cap).second) {
    return absl::InvalidArgumentError(
        absl::StrCat("the label '", label, "' is capped twice"));
  }
  return absl::OkStatus();
}

RunLimits::RunLimits(RunLimitsSpec spec)
    : spec_(std::move(spec)),
      server_(spec_.max_running.has_value()
                  ? std::make_unique<trial_runner::DevicePool>(
                        Slots(*spec_.max_running))
                  : nullptr) {}

trial_runner::DevicePool* RunLimits::LabelPool(const std::string& key,
                                               const std::string& value,
                                               int cap) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<trial_runner::DevicePool>& pool =
      label_pools_[{key, value}];
  if (pool == nullptr) {
    pool = std::make_unique<trial_runner::DevicePool>(Slots(cap));
  }
  return pool.get();
}

std::optional<RunLimits::Grant> RunLimits::TryAcquire(
    int64_t study,
    const google::protobuf::Map<std::string, std::string>& labels,
    std::string* waiting_for) {
  Grant grant;
  auto take = [&](trial_runner::DevicePool* pool, std::string why) {
    std::optional<std::vector<std::string>> slot =
        pool->TryAcquire(study, 1, {});
    if (!slot.has_value()) {
      Release(grant);
      *waiting_for = std::move(why);
      return false;
    }
    grant.held_.emplace_back(pool, *std::move(slot));
    return true;
  };
  if (server_ != nullptr &&
      !take(server_.get(),
            absl::StrCat("the server's cap of ", *spec_.max_running,
                         " running trials (--max-running-trials)"))) {
    return std::nullopt;
  }
  for (const auto& [key, cap] : spec_.max_running_per_label) {
    const auto label = labels.find(key);
    if (label == labels.end()) continue;
    if (!take(LabelPool(key, label->second, cap),
              absl::StrCat("the cap of ", cap, " running trials for ", key,
                           "=", label->second, " (--max-running-per)"))) {
      return std::nullopt;
    }
  }
  return grant;
}

void RunLimits::Release(const Grant& grant) {
  for (const auto& [pool, slots] : grant.held_) pool->Release(slots);
}

void RunLimits::Withdraw(int64_t study) {
  if (server_ != nullptr) server_->Withdraw(study);
  std::vector<trial_runner::DevicePool*> pools;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [label, pool] : label_pools_) pools.push_back(pool.get());
  }
  for (trial_runner::DevicePool* pool : pools) pool->Withdraw(study);
}

}  // namespace vernier::controller
