// Checking an algorithm's settings (v1::AlgorithmSpec::settings).
#ifndef VERNIER_ALGORITHMS_SETTINGS_H_
#define VERNIER_ALGORITHMS_SETTINGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace vernier::algorithms {

// OK when every key of `settings` is in `known`. Otherwise INVALID_ARGUMENT
// "settings.KEY: unknown setting for algorithm 'ALGORITHM'" for the first
// unknown key in sorted order (the study validator turns the prefix into the
// field path "algorithm.settings.KEY").
absl::Status CheckKnownSettings(absl::string_view algorithm,
                                const google::protobuf::Struct& settings,
                                const std::vector<std::string>& known);

// The same for settings of any `owner`, named as the message names it:
// "settings.KEY: unknown setting for OWNER" (CheckKnownSettings passes
// "algorithm 'NAME'").
absl::Status CheckKnownSettingsOf(absl::string_view owner,
                                  const google::protobuf::Struct& settings,
                                  const std::vector<std::string>& known);

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_SETTINGS_H_
