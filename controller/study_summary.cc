#include "controller/study_summary.h"

#include <cmath>

namespace vernier::controller {

bool IsBetter(const v1::ObjectiveSpec& objective, double a, double b) {
  return objective.goal() == v1::ObjectiveSpec::MINIMIZE ? a < b : a > b;
}

bool IsFinal(v1::Trial::State state) {
  switch (state) {
    case v1::Trial::SUCCEEDED:
    case v1::Trial::FAILED:
    case v1::Trial::STOPPED:
    case v1::Trial::INFEASIBLE:
      return true;
    default:
      return false;
  }
}

namespace {

// Makes `trial` the best when its objective beats the best so far.
void CompeteForBest(const v1::ObjectiveSpec& objective, const v1::Trial& trial,
                    StudySummary& summary) {
  if (trial.has_objective() && std::isfinite(trial.objective()) &&
      (!summary.best.has_value() ||
       IsBetter(objective, trial.objective(), summary.best->objective()))) {
    summary.best = trial;
  }
}

}  // namespace

void AddToSummary(const v1::ObjectiveSpec& objective, const v1::Trial& trial,
                  StudySummary& summary) {
  ++summary.created;
  switch (trial.state()) {
    case v1::Trial::PENDING:
      ++summary.pending;
      break;
    case v1::Trial::RUNNING:
      ++summary.running;
      break;
    case v1::Trial::SUCCEEDED:
      ++summary.succeeded;
      CompeteForBest(objective, trial, summary);
      break;
    case v1::Trial::FAILED:
      ++summary.failed;
      break;
    case v1::Trial::STOPPED:
      ++summary.stopped;
      if (!trial.has_early_stop()) break;
      summary.early_stopped.push_back(
          StudySummary::EarlyStopped{trial.number(), trial.early_stop().rule(),
                                     trial.early_stop().step()});
      if (objective.count_stopped()) CompeteForBest(objective, trial, summary);
      break;
    case v1::Trial::INFEASIBLE:
      ++summary.infeasible;
      break;
    default:
      break;
  }
}

StudySummary Summarize(const v1::ObjectiveSpec& objective,
                       const std::vector<v1::Trial>& trials) {
  StudySummary summary;
  for (const v1::Trial& trial : trials) AddToSummary(objective, trial, summary);
  return summary;
}

}  // namespace vernier::controller
