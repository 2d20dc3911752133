#include "algorithms/search_space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace vernier::algorithms {
namespace {

using google::protobuf::Value;
using v1::ParameterSpec;

// Integers beyond 2^53 are not all representable as doubles.
constexpr double kMaxExactInteger = 9007199254740992.0;

// A grid list longer than this is refused rather than materialised; grid
// search refuses a product of lists over the same limit.
constexpr int64_t kMaxGridValues = 10'000'000;

// Shortest text that reads back as the same double; zero prints as "0"
// whatever its sign, so that equal numbers print equally.
std::string FormatNumber(double value) {
  if (value == 0) return "0";
  char buffer[64];
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

bool IsLog(const ParameterSpec& p) { return p.scale() == ParameterSpec::LOG; }

double ToScale(const ParameterSpec& p, double x) {
  return IsLog(p) ? std::log(x) : x;
}

double FromScale(const ParameterSpec& p, double s) {
  return IsLog(p) ? std::exp(s) : s;
}

// The interval, in scale space, that the unit coordinate of a DOUBLE or INT
// spans. An INT's range is widened by half a unit each side before the scale
// applies, so integer k owns the values [k - 0.5, k + 0.5); on a log scale
// that is [log(k - 0.5), log(k + 0.5)), a share of about 1/k.
std::pair<double, double> UnitSpan(const ParameterSpec& p) {
  double lo = p.min();
  double hi = p.max();
  if (p.type() == ParameterSpec::INT) {
    lo -= 0.5;
    hi += 0.5;
  }
  return {ToScale(p, lo), ToScale(p, hi)};
}

double ClampUnit(double u) {
  if (std::isnan(u)) return 0;
  return std::clamp(u, 0.0, 1.0);
}

// The index of cell that `u` (in [0,1]) falls in, of `k` equal cells.
int CellIndex(double u, int k) {
  return std::min(static_cast<int>(std::floor(u * k)), k - 1);
}

double CellCentre(int index, int k) { return (index + 0.5) / k; }

Value NumberValue(double x) {
  Value value;
  value.set_number_value(x);
  return value;
}

Value StringValue(const std::string& s) {
  Value value;
  value.set_string_value(s);
  return value;
}

absl::Status ParameterError(const ParameterSpec& p, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("parameter '", p.name(), "': ", what));
}

absl::Status CheckParameter(const ParameterSpec& p) {
  switch (p.type()) {
    case ParameterSpec::DOUBLE:
    case ParameterSpec::INT: {
      if (!std::isfinite(p.min()) || !std::isfinite(p.max())) {
        return ParameterError(p, "min and max must be finite");
      }
      if (!(p.min() < p.max())) {
        return ParameterError(p, absl::StrCat("min (", FormatNumber(p.min()),
                                              ") must be below max (",
                                              FormatNumber(p.max()), ")"));
      }
      if (p.scale() != ParameterSpec::SCALE_UNSPECIFIED &&
          p.scale() != ParameterSpec::LINEAR && !IsLog(p)) {
        return ParameterError(p, "unknown scale");
      }
      if (IsLog(p) && p.min() <= 0) {
        return ParameterError(p, "a log scale needs min > 0");
      }
      if (p.type() == ParameterSpec::INT) {
        if (p.min() != std::floor(p.min()) || p.max() != std::floor(p.max())) {
          return ParameterError(p, "the bounds of an INT must be integers");
        }
        if (std::abs(p.min()) > kMaxExactInteger ||
            std::abs(p.max()) > kMaxExactInteger) {
          return ParameterError(p, "the bounds of an INT must lie within 2^53");
        }
      }
      if (p.has_grid_points() && p.grid_points() < 2) {
        return ParameterError(p, "grid_points must be at least 2");
      }
      return absl::OkStatus();
    }
    case ParameterSpec::DISCRETE: {
      if (p.values().empty()) return ParameterError(p, "no values");
      for (int i = 0; i < p.values_size(); ++i) {
        if (!std::isfinite(p.values(i))) {
          return ParameterError(p, "values must be finite");
        }
        if (i > 0 && !(p.values(i - 1) < p.values(i))) {
          return ParameterError(p, "values must be strictly increasing");
        }
      }
      return absl::OkStatus();
    }
    case ParameterSpec::CATEGORICAL: {
      if (p.categories().empty()) return ParameterError(p, "no categories");
      std::set<std::string> seen;
      for (const std::string& category : p.categories()) {
        if (!seen.insert(category).second) {
          return ParameterError(
              p, absl::StrCat("category '", category, "' is listed twice"));
        }
      }
      return absl::OkStatus();
    }
    default:
      return ParameterError(p, "no type");
  }
}

// The unit coordinate of one parameter's value.
absl::StatusOr<double> CoordinateOf(const ParameterSpec& p, const Value& v) {
  if (p.type() == ParameterSpec::CATEGORICAL) {
    if (v.kind_case() != Value::kStringValue) {
      return ParameterError(p, "expected a string (a category)");
    }
    const auto& categories = p.categories();
    const auto it =
        std::find(categories.begin(), categories.end(), v.string_value());
    if (it == categories.end()) {
      return ParameterError(p, absl::StrCat("'", v.string_value(),
                                            "' is not one of its categories"));
    }
    return CellCentre(static_cast<int>(it - categories.begin()),
                      p.categories_size());
  }
  if (v.kind_case() != Value::kNumberValue) {
    return ParameterError(p, "expected a number");
  }
  const double x = v.number_value();
  if (p.type() == ParameterSpec::DISCRETE) {
    const auto& values = p.values();
    const auto it = std::lower_bound(values.begin(), values.end(), x);
    if (it == values.end() || *it != x) {
      return ParameterError(
          p, absl::StrCat(FormatNumber(x), " is not one of its values"));
    }
    return CellCentre(static_cast<int>(it - values.begin()), p.values_size());
  }
  if (!(x >= p.min() && x <= p.max())) {
    return ParameterError(
        p, absl::StrCat(FormatNumber(x), " is outside [", FormatNumber(p.min()),
                        ", ", FormatNumber(p.max()), "]"));
  }
  double s = ToScale(p, x);
  if (p.type() == ParameterSpec::INT) {
    if (x != std::floor(x)) {
      return ParameterError(
          p, absl::StrCat(FormatNumber(x), " is not an integer"));
    }
    // The centre of the integer's cell, in scale space.
    if (IsLog(p)) s = 0.5 * (std::log(x - 0.5) + std::log(x + 0.5));
  }
  const auto [lo, hi] = UnitSpan(p);
  return ClampUnit((s - lo) / (hi - lo));
}

// The value of one parameter at unit coordinate `u` (clamped already).
Value ValueAt(const ParameterSpec& p, double u) {
  switch (p.type()) {
    case ParameterSpec::CATEGORICAL:
      return StringValue(p.categories(CellIndex(u, p.categories_size())));
    case ParameterSpec::DISCRETE:
      return NumberValue(p.values(CellIndex(u, p.values_size())));
    case ParameterSpec::INT: {
      const auto [lo, hi] = UnitSpan(p);
      const double x = FromScale(p, std::lerp(lo, hi, u));
      return NumberValue(std::clamp(std::floor(x + 0.5), p.min(), p.max()));
    }
    default: {
      // Exact at both ends, whatever rounding exp(log(x)) does.
      if (u == 0) return NumberValue(p.min());
      if (u == 1) return NumberValue(p.max());
      const auto [lo, hi] = UnitSpan(p);
      const double x = FromScale(p, std::lerp(lo, hi, u));
      return NumberValue(std::clamp(x, p.min(), p.max()));
    }
  }
}

void AppendValueText(const Value& v, std::string* out) {
  switch (v.kind_case()) {
    case Value::kNumberValue:
      absl::StrAppend(out, FormatNumber(v.number_value()));
      break;
    case Value::kStringValue:
      absl::StrAppend(out, "\"", absl::CEscape(v.string_value()), "\"");
      break;
    case Value::kBoolValue:
      absl::StrAppend(out, v.bool_value() ? "true" : "false");
      break;
    case Value::kNullValue:
      absl::StrAppend(out, "null");
      break;
    case Value::kStructValue:
      absl::StrAppend(out, "<struct>");
      break;
    case Value::kListValue:
      absl::StrAppend(out, "<list>");
      break;
    default:
      absl::StrAppend(out, "<unset>");
      break;
  }
}

}  // namespace

SearchSpace::SearchSpace(std::vector<v1::ParameterSpec> parameters)
    : parameters_(std::move(parameters)) {}

absl::StatusOr<SearchSpace> SearchSpace::Create(
    const google::protobuf::RepeatedPtrField<v1::ParameterSpec>& parameters) {
  std::set<std::string> names;
  for (int i = 0; i < parameters.size(); ++i) {
    const ParameterSpec& p = parameters.Get(i);
    if (p.name().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameters[", i, "]: no name"));
    }
    if (!names.insert(p.name()).second) {
      return ParameterError(p, "declared twice");
    }
    if (absl::Status status = CheckParameter(p); !status.ok()) return status;
  }
  return SearchSpace(
      std::vector<ParameterSpec>(parameters.begin(), parameters.end()));
}

int SearchSpace::dimensions() const {
  return static_cast<int>(parameters_.size());
}

const std::vector<v1::ParameterSpec>& SearchSpace::parameters() const {
  return parameters_;
}

absl::StatusOr<std::vector<double>> SearchSpace::ToUnit(
    const Assignment& assignment) const {
  std::vector<double> point;
  point.reserve(parameters_.size());
  for (const ParameterSpec& p : parameters_) {
    const auto it = assignment.find(p.name());
    if (it == assignment.end()) return ParameterError(p, "missing");
    absl::StatusOr<double> u = CoordinateOf(p, it->second);
    if (!u.ok()) return u.status();
    point.push_back(*u);
  }
  return point;
}

Assignment SearchSpace::FromUnit(const std::vector<double>& point) const {
  Assignment assignment;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const double u = i < point.size() ? ClampUnit(point[i]) : 0;
    assignment[parameters_[i].name()] = ValueAt(parameters_[i], u);
  }
  return assignment;
}

std::optional<int64_t> SearchSpace::Cardinality() const {
  int64_t product = 1;
  for (const ParameterSpec& p : parameters_) {
    int64_t count = 0;
    switch (p.type()) {
      case ParameterSpec::INT:
        count = static_cast<int64_t>(p.max() - p.min()) + 1;
        break;
      case ParameterSpec::DISCRETE:
        count = p.values_size();
        break;
      case ParameterSpec::CATEGORICAL:
        count = p.categories_size();
        break;
      default:
        return std::nullopt;
    }
    if (__builtin_mul_overflow(product, count, &product)) {
      product = std::numeric_limits<int64_t>::max();
    }
  }
  return product;
}

absl::StatusOr<std::vector<google::protobuf::Value>> SearchSpace::GridValues(
    int index) const {
  if (index < 0 || index >= dimensions()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no parameter at index ", index));
  }
  const ParameterSpec& p = parameters_[index];
  std::vector<Value> values;
  switch (p.type()) {
    case ParameterSpec::CATEGORICAL:
      for (const std::string& category : p.categories()) {
        values.push_back(StringValue(category));
      }
      return values;
    case ParameterSpec::DISCRETE:
      for (double x : p.values()) values.push_back(NumberValue(x));
      return values;
    default:
      break;
  }
  const bool is_int = p.type() == ParameterSpec::INT;
  if (is_int && !p.has_grid_points()) {
    const int64_t count = static_cast<int64_t>(p.max() - p.min()) + 1;
    if (count > kMaxGridValues) {
      return ParameterError(
          p,
          absl::StrCat("its ", count, " integers are more than a grid takes (",
                       kMaxGridValues, "); set grid_points"));
    }
    values.reserve(count);
    for (int64_t k = 0; k < count; ++k) {
      values.push_back(NumberValue(p.min() + static_cast<double>(k)));
    }
    return values;
  }
  if (!p.has_grid_points()) {
    return ParameterError(p, "grid search needs grid_points for a DOUBLE");
  }
  const int n = p.grid_points();
  if (n > kMaxGridValues) {
    return ParameterError(
        p, absl::StrCat("grid_points is over the limit of ", kMaxGridValues));
  }
  // n points from min to max inclusive, evenly spaced in scale space; an
  // INT's points are rounded, and points that round alike are kept once.
  const double lo = ToScale(p, p.min());
  const double hi = ToScale(p, p.max());
  for (int i = 0; i < n; ++i) {
    double x = p.min();
    if (i == n - 1) {
      x = p.max();
    } else if (i > 0) {
      x = std::clamp(
          FromScale(p, std::lerp(lo, hi, static_cast<double>(i) / (n - 1))),
          p.min(), p.max());
    }
    if (is_int) x = std::floor(x + 0.5);
    if (!values.empty() && values.back().number_value() == x) continue;
    values.push_back(NumberValue(x));
  }
  return values;
}

std::string SearchSpace::Key(const Assignment& assignment) const {
  std::string key;
  for (const ParameterSpec& p : parameters_) {
    if (!key.empty()) key.push_back(';');
    absl::StrAppend(&key, p.name(), "=");
    const auto it = assignment.find(p.name());
    if (it == assignment.end()) {
      key.append("<missing>");
    } else {
      AppendValueText(it->second, &key);
    }
  }
  return key;
}

}  // namespace vernier::algorithms
