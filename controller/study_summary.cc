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

StudySummary Summarize(const v1::ObjectiveSpec& objective,
                       const std::vector<v1::Trial>& trials) {
  StudySummary summary;
  summary.created = static_cast<int>(trials.size());
  const v1::Trial* best = nullptr;
  for (const v1::Trial& trial : trials) {
    switch (trial.state()) {
      case v1::Trial::PENDING:
        ++summary.pending;
        break;
      case v1::Trial::RUNNING:
        ++summary.running;
        break;
      case v1::Trial::SUCCEEDED:
        ++summary.succeeded;
        if (trial.has_objective() && std::isfinite(trial.objective()) &&
            (best == nullptr ||
             IsBetter(objective, trial.objective(), best->objective()))) {
          best = &trial;
        }
        break;
      case v1::Trial::FAILED:
        ++summary.failed;
        break;
      case v1::Trial::STOPPED:
        ++summary.stopped;
        break;
      case v1::Trial::INFEASIBLE:
        ++summary.infeasible;
        break;
      default:
        break;
    }
  }
  if (best != nullptr) summary.best = *best;
  return summary;
}

}  // namespace vernier::controller
