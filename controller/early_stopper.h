// EarlyStopper: a study's early-stopping rule and the learning curves it
// judges: every trial's intermediate values of the objective metric.
//
// Measurements reach it both ways they reach Vernier: the report RPC calls
// Observe on an RPC thread once the measurement is durable, so that the
// answer to that very report can say should_stop; stdout `step=N` lines call
// it on the study loop. The rule (algorithms/early_stopping/) is a pure
// function of the curves; this class owns them and remembers which trials it
// has already told to stop. Thread-safe.
#ifndef VERNIER_CONTROLLER_EARLY_STOPPER_H_
#define VERNIER_CONTROLLER_EARLY_STOPPER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "algorithms/early_stopping/early_stopping_rule.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

class EarlyStopper {
 public:
  // The rule's verdict on a trial.
  struct Decision {
    // rule, step, best_step and reason, as the trial will carry them.
    v1::EarlyStop early_stop;
    // The trial's best value up to early_stop.step (at best_step).
    double best_value = 0;
  };

  // The stopper of a study whose spec has early_stopping; nullptr when it has
  // none. INVALID_ARGUMENT or NOT_FOUND when the rule cannot be built (a
  // validated spec's can).
  static absl::StatusOr<std::unique_ptr<EarlyStopper>> Create(
      const v1::StudySpec& spec);

  EarlyStopper(const v1::StudySpec& spec,
               std::unique_ptr<algorithms::EarlyStoppingRule> rule);
  EarlyStopper(const EarlyStopper&) = delete;
  EarlyStopper& operator=(const EarlyStopper&) = delete;

  // Adds a trial's stored measurements to its curve without judging it: the
  // trials of an earlier run, which the rule compares running ones against.
  void Load(int64_t trial_id, const std::vector<v1::Measurement>& measurements);

  // Adds `measurements` of a running trial to its curve and asks the rule at
  // each one's step, in order. Returns a decision the first time the rule
  // says stop for the trial; nullopt otherwise, and for every later call
  // about a trial already told to stop. Values of other metrics are ignored.
  std::optional<Decision> Observe(
      int64_t trial_id, const std::vector<v1::Measurement>& measurements);

  // Forgets the trial's curve and any decision: it runs again from its start
  // (a retry, or a run resumed after a crash).
  void Restart(int64_t trial_id);

 private:
  void AddLocked(int64_t trial_id,
                 const std::vector<v1::Measurement>& measurements)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const std::string rule_name_;
  const std::string metric_;
  const v1::ObjectiveSpec::Goal goal_;
  const std::unique_ptr<algorithms::EarlyStoppingRule> rule_;

  absl::Mutex mutex_;
  algorithms::CurveHistory curves_ ABSL_GUARDED_BY(mutex_);
  std::set<int64_t> stopped_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_EARLY_STOPPER_H_
