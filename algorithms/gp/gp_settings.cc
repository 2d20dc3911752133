#include "algorithms/gp/gp_settings.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "algorithms/settings.h"

namespace vernier::algorithms::gp {
namespace {

using google::protobuf::Value;

absl::Status Bad(const std::string& name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("settings.", name, ": ", what));
}

absl::StatusOr<double> Number(const std::string& name, const Value& value,
                              double min, double max, bool min_open) {
  if (value.kind_case() != Value::kNumberValue) {
    return Bad(name, "must be a number");
  }
  const double x = value.number_value();
  if (!std::isfinite(x) || x > max || x < min || (min_open && x == min)) {
    return Bad(name, absl::StrCat("must be in ", min_open ? "(" : "[", min,
                                  ", ", max, "] (got ", x, ")"));
  }
  return x;
}

absl::StatusOr<int> Integer(const std::string& name, const Value& value,
                            int min, int max) {
  if (value.kind_case() != Value::kNumberValue ||
      value.number_value() != std::floor(value.number_value())) {
    return Bad(name, "must be an integer");
  }
  const double x = value.number_value();
  if (x < min || x > max) {
    return Bad(name, absl::StrCat("must be from ", min, " to ", max, " (got ",
                                  x, ")"));
  }
  return static_cast<int>(x);
}

}  // namespace

absl::StatusOr<GpSettings> ParseGpSettings(
    const google::protobuf::Struct& settings, int dimensions) {
  if (absl::Status status = CheckKnownSettings(
          "gp", settings,
          {"initial_trials", "acquisition", "beta", "noise_floor", "candidates",
           "cost_aware", "second_basin"});
      !status.ok()) {
    return status;
  }
  GpSettings parsed;
  parsed.initial_trials = std::max(5, 2 * (dimensions + 1));
  // Sorted, so the first bad setting reported is the first in name order.
  const std::map<std::string, Value> fields(settings.fields().begin(),
                                            settings.fields().end());
  for (const auto& [name, value] : fields) {
    if (name == "initial_trials") {
      absl::StatusOr<int> x = Integer(name, value, 1, 10000);
      if (!x.ok()) return x.status();
      parsed.initial_trials = *x;
    } else if (name == "acquisition") {
      if (value.kind_case() != Value::kStringValue ||
          (value.string_value() != "log_ei" && value.string_value() != "ucb")) {
        return Bad(name, "must be 'log_ei' or 'ucb'");
      }
      parsed.acquisition = value.string_value() == "ucb"
                               ? AcquisitionKind::kUcb
                               : AcquisitionKind::kLogEi;
    } else if (name == "beta") {
      absl::StatusOr<double> x = Number(name, value, 0, 1000, true);
      if (!x.ok()) return x.status();
      parsed.beta = *x;
    } else if (name == "noise_floor") {
      absl::StatusOr<double> x = Number(name, value, 1e-10, 0.1, false);
      if (!x.ok()) return x.status();
      parsed.noise_floor = *x;
    } else if (name == "candidates") {
      absl::StatusOr<int> x = Integer(name, value, 64, 65536);
      if (!x.ok()) return x.status();
      parsed.candidates = *x;
    } else if (name == "cost_aware") {
      if (value.kind_case() != Value::kBoolValue) {
        return Bad(name, "must be true or false");
      }
      parsed.cost_aware = value.bool_value();
    } else if (name == "second_basin") {
      if (value.kind_case() != Value::kBoolValue) {
        return Bad(name, "must be true or false");
      }
      parsed.second_basin = value.bool_value();
    }
  }
  if (fields.count("beta") != 0 &&
      parsed.acquisition != AcquisitionKind::kUcb) {
    return Bad("beta", "only the 'ucb' acquisition takes beta");
  }
  if (parsed.cost_aware && parsed.acquisition != AcquisitionKind::kLogEi) {
    return Bad("cost_aware",
               "only the 'log_ei' acquisition can weigh improvement by cost");
  }
  return parsed;
}

}  // namespace vernier::algorithms::gp
