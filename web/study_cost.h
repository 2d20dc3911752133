// StudyCost: where a study's money stands now and how its spend grew, as the
// dashboard shows it (GET /api/v1/studies/NAME/cost: the studies list's spend
// against budget and the study page's cost plot). The numbers are those of
// controller::CostLedger, the same that `vernier show` prints.
#ifndef VERNIER_WEB_STUDY_COST_H_
#define VERNIER_WEB_STUDY_COST_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/cost_ledger.h"
#include "vernier/v1/study.pb.h"

namespace vernier::web {

struct CostPoint {
  double seconds = 0;  // since the Unix epoch
  double spent = 0;    // in the study's currency, by then
};

struct StudyCost {
  std::string currency;            // ISO 4217; USD when the spec names none
  std::optional<double> max_cost;  // absent without a budget
  double hourly_rate = 0;          // of one running trial
  controller::CostBalance balance;
  // The spend from the first trial's start until `now`, at most
  // kMaxCostPoints points in time order, the last one at `now` with
  // balance.spent. Each trial's cost accrues evenly over its current
  // attempt (start to end, or to `now` while it runs), so earlier attempts
  // of a retried trial count from its last start. Empty before any trial
  // started or without pricing.
  std::vector<CostPoint> spent_over_time;
};

inline constexpr int kMaxCostPoints = 200;

// `trials` are every trial of `study`.
StudyCost ComputeStudyCost(const v1::Study& study,
                           const std::vector<v1::Trial>& trials,
                           absl::Time now);

// {"currency", "maxCost" (absent without a budget), "hourlyRate", "spent",
//  "committed", "remaining" (absent without a budget), "burnPerHour",
//  "running", "spentOverTime": {"seconds": [...], "spent": [...]}}
std::string StudyCostJson(const StudyCost& cost);

}  // namespace vernier::web

#endif  // VERNIER_WEB_STUDY_COST_H_
