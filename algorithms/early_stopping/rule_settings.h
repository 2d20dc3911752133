// Reading an early-stopping rule's settings (EarlyStoppingSpec.settings).
// Internal to the early-stopping rules. Errors are INVALID_ARGUMENT with the
// message "settings.KEY: ..." (the study validator turns the prefix into the
// field path "early_stopping.settings.KEY").
#ifndef VERNIER_ALGORITHMS_EARLY_STOPPING_RULE_SETTINGS_H_
#define VERNIER_ALGORITHMS_EARLY_STOPPING_RULE_SETTINGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace vernier::algorithms {

// OK when every key of `settings` is in `known`; otherwise an error on the
// first unknown key in sorted order: "settings.KEY: unknown setting for
// early-stopping rule 'RULE'".
absl::Status CheckRuleSettings(absl::string_view rule,
                               const google::protobuf::Struct& settings,
                               const std::vector<std::string>& known);

// settings[key] as an integer >= `min`; nullopt when absent. An error when it
// is not a number, not integral, below `min` or beyond 2^53.
absl::StatusOr<std::optional<int64_t>> IntegerSetting(
    const google::protobuf::Struct& settings, absl::string_view key,
    int64_t min);

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_EARLY_STOPPING_RULE_SETTINGS_H_
