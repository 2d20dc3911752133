// What a study's trials add up to: counts by state and the best trial. Shared
// by the controller (end conditions, progress) and every reader (CLI, APIs), so
// "best" means one thing everywhere.
#ifndef VERNIER_CONTROLLER_STUDY_SUMMARY_H_
#define VERNIER_CONTROLLER_STUDY_SUMMARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vernier/v1/study.pb.h"

namespace vernier::controller {

struct StudySummary {
  int created = 0;  // every trial, in any state
  int pending = 0;
  int running = 0;
  int succeeded = 0;
  int failed = 0;
  int stopped = 0;
  int infeasible = 0;
  // Trials in a final state (succeeded, failed, stopped, infeasible).
  int finished() const { return succeeded + failed + stopped + infeasible; }
  // The best SUCCEEDED trial with a finite objective; ties go to the earlier.
  // With objective.count_stopped, trials stopped early compete too, with the
  // best value they reached (their objective).
  std::optional<v1::Trial> best;
  // The trials the early-stopping rule stopped (a part of `stopped`), in
  // number order.
  struct EarlyStopped {
    int number = 0;
    std::string rule;
    int64_t step = 0;
  };
  std::vector<EarlyStopped> early_stopped;
};

StudySummary Summarize(const v1::ObjectiveSpec& objective,
                       const std::vector<v1::Trial>& trials);

// Folds one more trial into `summary`; Summarize is this over every trial.
// Trials must come in number order (so that ties go to the earlier).
void AddToSummary(const v1::ObjectiveSpec& objective, const v1::Trial& trial,
                  StudySummary& summary);

// True when `a` is a strictly better objective value than `b` for the goal.
bool IsBetter(const v1::ObjectiveSpec& objective, double a, double b);

// True when the trial state is final (the trial will not run again).
bool IsFinal(v1::Trial::State state);

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_STUDY_SUMMARY_H_
