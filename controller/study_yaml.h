// Reading a study from YAML, and checking a StudySpec from any source.
//
// LoadStudyYaml turns the YAML of the README's reference into a v1::StudySpec
// and lists every problem at once: unknown keys, wrong types, and every rule
// of ValidateStudySpec, each with the field path and the YAML line and column.
// Nothing is written anywhere; callers store the spec only when it is valid.
#ifndef VERNIER_CONTROLLER_STUDY_YAML_H_
#define VERNIER_CONTROLLER_STUDY_YAML_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

// One problem with a study.
struct SpecError {
  // The field, as a user writes it: "parameters[2].max", "trials.parallel".
  std::string path;
  std::string message;
  // 1-based position in the YAML; 0 when the spec did not come from YAML.
  int line = 0;
  int column = 0;

  // "12:5: parameters[2].max: must be greater than min (3 <= 5)"
  std::string ToString() const;
};

struct LoadedStudy {
  v1::StudySpec spec;
  // Empty when the study is valid.
  std::vector<SpecError> errors;
};

// Parses and validates `yaml_text`. `base_dir` (absolute) is where a relative
// worker.working_dir starts: the YAML file's folder. A YAML syntax error is a
// single error with its position.
LoadedStudy LoadStudyYaml(absl::string_view yaml_text, absl::string_view base_dir);

// The rules a StudySpec must meet however it was made (YAML, gRPC, JSON).
// Errors carry paths but no positions.
std::vector<SpecError> ValidateStudySpec(const v1::StudySpec& spec);

// One INVALID_ARGUMENT status whose message lists every error, one per line,
// each prefixed with `source` ("study.yaml:") when not empty.
absl::Status SpecErrorsToStatus(const std::vector<SpecError>& errors,
                                absl::string_view source);

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_STUDY_YAML_H_
