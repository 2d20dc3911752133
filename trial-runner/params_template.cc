#include "trial-runner/params_template.h"

#include <charconv>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vernier::trial_runner {
namespace {

constexpr absl::string_view kOpen = "${params.";

// Calls `on_reference(begin, end, name)` for each ${params.NAME} in `text`,
// where [begin, end) is the whole reference.
template <typename F>
void ForEachReference(absl::string_view text, F on_reference) {
  size_t pos = 0;
  while ((pos = text.find(kOpen, pos)) != absl::string_view::npos) {
    const size_t close = text.find('}', pos + kOpen.size());
    if (close == absl::string_view::npos) return;
    on_reference(pos, close + 1,
                 text.substr(pos + kOpen.size(), close - pos - kOpen.size()));
    pos = close + 1;
  }
}

}  // namespace

std::vector<std::string> ReferencedParams(absl::string_view text) {
  std::vector<std::string> names;
  ForEachReference(text, [&](size_t, size_t, absl::string_view name) {
    names.emplace_back(name);
  });
  return names;
}

std::string FormatParamValue(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kNumberValue: {
      const double number = value.number_value();
      if (std::isfinite(number) && number == std::trunc(number) &&
          std::fabs(number) < 1e15) {
        return absl::StrCat(static_cast<int64_t>(number));
      }
      char buffer[64];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);
      return std::string(buffer, end);
    }
    case google::protobuf::Value::kBoolValue:
      return value.bool_value() ? "true" : "false";
    default:
      return "";
  }
}

absl::StatusOr<std::string> SubstituteParams(
    absl::string_view text,
    const google::protobuf::Map<std::string, google::protobuf::Value>& params) {
  std::string out;
  size_t copied = 0;
  absl::Status status;
  ForEachReference(text, [&](size_t begin, size_t end, absl::string_view name) {
    auto it = params.find(std::string(name));
    if (it == params.end()) {
      if (status.ok()) {
        status = absl::InvalidArgumentError(
            absl::StrCat("${params.", name, "} names no parameter"));
      }
      return;
    }
    absl::StrAppend(&out, text.substr(copied, begin - copied),
                    FormatParamValue(it->second));
    copied = end;
  });
  if (!status.ok()) return status;
  absl::StrAppend(&out, text.substr(copied));
  return out;
}

}  // namespace vernier::trial_runner
