// ${params.NAME} substitution in commands (and, later, Job templates).
#ifndef VERNIER_TRIAL_RUNNER_PARAMS_TEMPLATE_H_
#define VERNIER_TRIAL_RUNNER_PARAMS_TEMPLATE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "google/protobuf/struct.pb.h"

namespace vernier::trial_runner {

// The NAMEs of every ${params.NAME} in `text`, in order of appearance.
std::vector<std::string> ReferencedParams(absl::string_view text);

// A parameter value as text for a command line or environment variable:
// integral numbers without a fraction ("64"), others in the shortest form that
// reads back to the same double ("0.001", "1e-05"), strings as they are.
std::string FormatParamValue(const google::protobuf::Value& value);

// `text` with every ${params.NAME} replaced by FormatParamValue of NAME.
// INVALID_ARGUMENT naming the parameter when `params` lacks one.
absl::StatusOr<std::string> SubstituteParams(
    absl::string_view text,
    const google::protobuf::Map<std::string, google::protobuf::Value>& params);

}  // namespace vernier::trial_runner

#endif  // VERNIER_TRIAL_RUNNER_PARAMS_TEMPLATE_H_
