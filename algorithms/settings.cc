#include "algorithms/settings.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace vernier::algorithms {

absl::Status CheckKnownSettings(absl::string_view algorithm,
                                const google::protobuf::Struct& settings,
                                const std::vector<std::string>& known) {
  return CheckKnownSettingsOf(absl::StrCat("algorithm '", algorithm, "'"),
                              settings, known);
}

absl::Status CheckKnownSettingsOf(absl::string_view owner,
                                  const google::protobuf::Struct& settings,
                                  const std::vector<std::string>& known) {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : settings.fields()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      unknown.push_back(key);
    }
  }
  if (unknown.empty()) return absl::OkStatus();
  std::sort(unknown.begin(), unknown.end());
  return absl::InvalidArgumentError(absl::StrCat(
      "settings.", unknown.front(), ": unknown setting for ", owner));
}

}  // namespace vernier::algorithms
