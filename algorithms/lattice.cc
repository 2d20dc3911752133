#include "algorithms/lattice.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace vernier::algorithms {

using google::protobuf::Value;

Lattice::Dimension Lattice::Integers(std::string name, double first,
                                     int64_t count) {
  Dimension dimension;
  dimension.name = std::move(name);
  dimension.first = first;
  dimension.count = count;
  return dimension;
}

Lattice::Dimension Lattice::Numbers(std::string name,
                                    std::vector<double> increasing) {
  Dimension dimension;
  dimension.name = std::move(name);
  dimension.numbers = std::move(increasing);
  return dimension;
}

Lattice::Dimension Lattice::Strings(std::string name,
                                    std::vector<std::string> distinct) {
  Dimension dimension;
  dimension.name = std::move(name);
  dimension.strings = std::move(distinct);
  dimension.string_order.resize(dimension.strings.size());
  std::iota(dimension.string_order.begin(), dimension.string_order.end(), 0);
  const std::vector<std::string>& strings = dimension.strings;
  std::sort(dimension.string_order.begin(), dimension.string_order.end(),
            [&strings](int a, int b) { return strings[a] < strings[b]; });
  return dimension;
}

Lattice::Dimension Lattice::FromValues(std::string name,
                                       const std::vector<Value>& values) {
  if (!values.empty() && values.front().kind_case() == Value::kStringValue) {
    std::vector<std::string> strings;
    strings.reserve(values.size());
    for (const Value& value : values) strings.push_back(value.string_value());
    return Strings(std::move(name), std::move(strings));
  }
  std::vector<double> numbers;
  numbers.reserve(values.size());
  for (const Value& value : values) numbers.push_back(value.number_value());
  return Numbers(std::move(name), std::move(numbers));
}

Lattice::Lattice(std::vector<Dimension> dimensions)
    : dimensions_(std::move(dimensions)) {
  for (const Dimension& dimension : dimensions_)
    size_ *= DimensionSize(dimension);
}

int64_t Lattice::DimensionSize(const Dimension& dimension) {
  if (!dimension.numbers.empty()) {
    return static_cast<int64_t>(dimension.numbers.size());
  }
  if (!dimension.strings.empty()) {
    return static_cast<int64_t>(dimension.strings.size());
  }
  return dimension.count;
}

Value Lattice::ValueAt(const Dimension& dimension, int64_t position) {
  Value value;
  if (!dimension.numbers.empty()) {
    value.set_number_value(dimension.numbers[position]);
  } else if (!dimension.strings.empty()) {
    value.set_string_value(dimension.strings[position]);
  } else {
    value.set_number_value(dimension.first + static_cast<double>(position));
  }
  return value;
}

std::optional<int64_t> Lattice::PositionOf(const Dimension& dimension,
                                           const Value& value) {
  if (!dimension.strings.empty()) {
    if (value.kind_case() != Value::kStringValue) return std::nullopt;
    const std::string& s = value.string_value();
    const auto it = std::lower_bound(
        dimension.string_order.begin(), dimension.string_order.end(), s,
        [&dimension](int position, const std::string& target) {
          return dimension.strings[position] < target;
        });
    if (it == dimension.string_order.end() || dimension.strings[*it] != s) {
      return std::nullopt;
    }
    return *it;
  }
  if (value.kind_case() != Value::kNumberValue) return std::nullopt;
  const double x = value.number_value();
  if (!dimension.numbers.empty()) {
    const auto it =
        std::lower_bound(dimension.numbers.begin(), dimension.numbers.end(), x);
    // `*it == x` is false for NaN, which lower_bound cannot order.
    if (it == dimension.numbers.end() || *it != x) return std::nullopt;
    return it - dimension.numbers.begin();
  }
  const double offset = x - dimension.first;
  if (!(offset >= 0 && offset < static_cast<double>(dimension.count)) ||
      offset != std::floor(offset)) {
    return std::nullopt;
  }
  return static_cast<int64_t>(offset);
}

std::vector<int64_t> Lattice::Digits(int64_t index) const {
  std::vector<int64_t> digits(dimensions_.size());
  for (size_t i = dimensions_.size(); i-- > 0;) {
    const int64_t radix = DimensionSize(dimensions_[i]);
    digits[i] = index % radix;
    index /= radix;
  }
  return digits;
}

Assignment Lattice::At(int64_t index) const {
  const std::vector<int64_t> digits = Digits(index);
  Assignment assignment;
  for (size_t i = 0; i < dimensions_.size(); ++i) {
    assignment[dimensions_[i].name] = ValueAt(dimensions_[i], digits[i]);
  }
  return assignment;
}

std::optional<int64_t> Lattice::IndexOf(const Assignment& assignment) const {
  int64_t index = 0;
  for (const Dimension& dimension : dimensions_) {
    const auto it = assignment.find(dimension.name);
    if (it == assignment.end()) return std::nullopt;
    const std::optional<int64_t> position = PositionOf(dimension, it->second);
    if (!position.has_value()) return std::nullopt;
    index = index * DimensionSize(dimension) + *position;
  }
  return index;
}

}  // namespace vernier::algorithms
