// The rules of a study's resources and money: worker.gpus_per_trial, gpus,
// cpus_per_trial, memory_gb_per_trial, pricing, budget and labels. Part of
// ValidateStudySpec (internal to the controller module).
#ifndef VERNIER_CONTROLLER_COST_VALIDATION_H_
#define VERNIER_CONTROLLER_COST_VALIDATION_H_

#include <vector>

#include "controller/study_yaml.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

// Every problem, appended to `errors`. Thread-safe.
void ValidateCostSpec(const v1::StudySpec& spec, std::vector<SpecError>& errors);

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_COST_VALIDATION_H_
