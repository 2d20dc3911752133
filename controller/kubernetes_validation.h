// The rules of worker.kubernetes (internal to the controller module; see
// ValidateStudySpec in controller/study_yaml.h).
#ifndef VERNIER_CONTROLLER_KUBERNETES_VALIDATION_H_
#define VERNIER_CONTROLLER_KUBERNETES_VALIDATION_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "controller/study_yaml.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

// Checks the ${params.X} references of the text at `path`, adding errors of
// its own.
using ReferenceCheck =
    std::function<void(const std::string& path, absl::string_view text)>;

// Appends to `errors` every problem of `spec` (paths under
// "worker.kubernetes"), except report_endpoint's form and the durations,
// which the study validator checks like its other endpoints and durations.
// Every string of command and job_template goes through `check_references`.
void ValidateKubernetesWorker(const v1::KubernetesWorkerSpec& spec,
                              const ReferenceCheck& check_references,
                              std::vector<SpecError>* errors);

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_KUBERNETES_VALIDATION_H_
