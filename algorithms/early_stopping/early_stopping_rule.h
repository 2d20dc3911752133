// EarlyStoppingRule: decides, from the intermediate values of a study's
// objective metric, whether a running trial is hopeless and should stop.
//
// A rule is chosen by name at run time from a registry ("median", "asha");
// its settings come from the study's early_stopping.settings. It is a pure
// function of the learning curves it is shown: it keeps no state between
// calls, so the caller may ask it again (a retried report) and get the same
// answer, and a resumed study decides as the first run would have.
//
// Values: only finite values count; NaN and infinities are ignored, as if
// not reported. A trial's "best up to step s" is its best finite value over
// its steps <= s (the highest for MAXIMIZE, the lowest for MINIMIZE). Steps
// need not be contiguous: a trial that reported steps 1, 2 and 5 "reached"
// every step up to 5, and its best up to 4 is its best over 1 and 2.
#ifndef VERNIER_ALGORITHMS_EARLY_STOPPING_EARLY_STOPPING_RULE_H_
#define VERNIER_ALGORITHMS_EARLY_STOPPING_EARLY_STOPPING_RULE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "vernier/v1/study.pb.h"

namespace vernier::algorithms {

// One trial's intermediate values of the objective metric: step -> value.
using LearningCurve = std::map<int64_t, double>;

// The learning curves of a study's trials, by trial id: every trial with a
// measurement, in any state (running, finished, stopped).
using CurveHistory = std::map<int64_t, LearningCurve>;

// A rule's verdict that a trial should stop.
struct StopDecision {
  // For people: why, with the figures compared.
  std::string reason;
};

// What a rule is built from.
struct EarlyStoppingContext {
  // The goal says which values are better; the metric names them in reasons.
  v1::ObjectiveSpec objective;
  google::protobuf::Struct settings;
};

class EarlyStoppingRule {
 public:
  EarlyStoppingRule() = default;
  virtual ~EarlyStoppingRule() = default;
  EarlyStoppingRule(const EarlyStoppingRule&) = delete;
  EarlyStoppingRule& operator=(const EarlyStoppingRule&) = delete;

  // Asked when trial `trial_id` has just reported `step`; `history` already
  // holds that report (history.at(trial_id) has `step`). A decision when the
  // trial should stop now, nullopt when it should go on (including when
  // `trial_id` has no curve in `history`). Thread-safe (const, stateless).
  virtual std::optional<StopDecision> ShouldStop(const CurveHistory& history,
                                                 int64_t trial_id,
                                                 int64_t step) const = 0;
};

// Builds a rule, or INVALID_ARGUMENT naming the offending setting
// ("settings.max_step: required: ...").
using EarlyStoppingRuleFactory =
    std::function<absl::StatusOr<std::unique_ptr<EarlyStoppingRule>>(
        const EarlyStoppingContext& context)>;

// Builds the rule named `name` ("median", "asha"). NOT_FOUND for an unknown
// name, listing the known ones; otherwise what the rule's factory returns.
// Thread-safe.
absl::StatusOr<std::unique_ptr<EarlyStoppingRule>> CreateEarlyStoppingRule(
    const std::string& name, const EarlyStoppingContext& context);

// The known rule names, sorted.
std::vector<std::string> EarlyStoppingRuleNames();

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_EARLY_STOPPING_EARLY_STOPPING_RULE_H_
