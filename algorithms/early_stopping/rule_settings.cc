#include "algorithms/early_stopping/rule_settings.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "algorithms/settings.h"

namespace vernier::algorithms {
namespace {

// Integers beyond this are not all representable in a double.
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

}  // namespace

absl::Status CheckRuleSettings(absl::string_view rule,
                               const google::protobuf::Struct& settings,
                               const std::vector<std::string>& known) {
  return CheckKnownSettingsOf(
      absl::StrCat("early-stopping rule '", rule, "'"), settings, known);
}

absl::StatusOr<std::optional<int64_t>> IntegerSetting(
    const google::protobuf::Struct& settings, absl::string_view key,
    int64_t min) {
  auto it = settings.fields().find(std::string(key));
  if (it == settings.fields().end()) return std::optional<int64_t>();
  const google::protobuf::Value& value = it->second;
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("settings.", key, ": ", what));
  };
  if (!value.has_number_value()) {
    return error(absl::StrCat("must be an integer of at least ", min));
  }
  const double number = value.number_value();
  if (!std::isfinite(number) || number != std::trunc(number) ||
      std::fabs(number) > kMaxExactInteger) {
    return error(absl::StrFormat("must be an integer (not %g)", number));
  }
  if (number < static_cast<double>(min)) {
    return error(absl::StrFormat("must be at least %d (not %d)", min,
                                 static_cast<int64_t>(number)));
  }
  return std::optional<int64_t>(static_cast<int64_t>(number));
}

}  // namespace vernier::algorithms
