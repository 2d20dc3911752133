#include "web/study_cost.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nlohmann/json.hpp"

namespace vernier::web {
namespace {

double Seconds(const google::protobuf::Timestamp& time) {
  return static_cast<double>(time.seconds()) + time.nanos() * 1e-9;
}

}  // namespace

StudyCost ComputeStudyCost(const v1::Study& study,
                           const std::vector<v1::Trial>& trials,
                           absl::Time now) {
  const v1::StudySpec& spec = study.spec();
  const controller::CostLedger ledger(spec);
  StudyCost cost;
  cost.currency = spec.has_budget() && !spec.budget().currency().empty()
                      ? spec.budget().currency()
                      : "USD";
  if (spec.has_budget()) cost.max_cost = spec.budget().max_cost();
  cost.hourly_rate = ledger.hourly_rate();
  std::vector<const v1::Trial*> views;
  views.reserve(trials.size());
  for (const v1::Trial& trial : trials) views.push_back(&trial);
  cost.balance = ledger.Balance(views, now);
  if (ledger.hourly_rate() <= 0) return cost;

  // Each started trial as (start, end, cost): its cost spread over
  // [start, end].
  struct Span {
    double start, end, cost;
  };
  const double now_seconds = absl::ToDoubleSeconds(now - absl::UnixEpoch());
  std::vector<Span> spans;
  double first = std::numeric_limits<double>::infinity();
  for (const v1::Trial& trial : trials) {
    const double trial_cost = ledger.TrialCost(trial, now);
    if (!trial.has_start_time() || trial_cost <= 0) continue;
    const double start = Seconds(trial.start_time());
    const double end =
        trial.has_end_time() && trial.state() != v1::Trial::RUNNING
            ? std::max(start, Seconds(trial.end_time()))
            : std::max(start, now_seconds);
    spans.push_back({start, end, trial_cost});
    first = std::min(first, start);
  }
  if (spans.empty()) return cost;
  const double last = std::max(first, now_seconds);
  for (int k = 0; k < kMaxCostPoints; ++k) {
    const double t =
        first + (last - first) * k / static_cast<double>(kMaxCostPoints - 1);
    double spent = 0;
    for (const Span& span : spans) {
      if (t >= span.end) {
        spent += span.cost;
      } else if (t > span.start) {
        spent += span.cost * (t - span.start) / (span.end - span.start);
      }
    }
    cost.spent_over_time.push_back({t, spent});
  }
  return cost;
}

std::string StudyCostJson(const StudyCost& cost) {
  nlohmann::json seconds = nlohmann::json::array();
  nlohmann::json spent = nlohmann::json::array();
  for (const CostPoint& point : cost.spent_over_time) {
    seconds.push_back(point.seconds);
    spent.push_back(point.spent);
  }
  nlohmann::json body = {
      {"currency", cost.currency},
      {"hourlyRate", cost.hourly_rate},
      {"spent", cost.balance.spent},
      {"committed", cost.balance.committed},
      {"burnPerHour", cost.balance.burn_per_hour},
      {"running", cost.balance.running},
      {"spentOverTime", {{"seconds", seconds}, {"spent", spent}}},
  };
  if (cost.max_cost.has_value()) {
    body["maxCost"] = *cost.max_cost;
    body["remaining"] = cost.balance.remaining;
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vernier::web
