#include "controller/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace vernier::controller {
namespace {

// Bounds on free-form values (algorithm settings): aliases can make a small
// text expand into a huge tree.
constexpr int kMaxFreeFormDepth = 32;
constexpr int kMaxFreeFormValues = 10'000;
// google.protobuf.Duration's range.
constexpr double kMaxDurationSeconds = 315'576'000'000.0;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

YamlReader::Position ToPosition(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// The path one level up: "a.b[2]" -> "a.b" -> "a" -> "".
std::string ParentPath(absl::string_view path) {
  const size_t cut = path.find_last_of(".[");
  return cut == absl::string_view::npos ? "" : std::string(path.substr(0, cut));
}

// A quoted scalar ('...' or "...") is always a string; yaml-cpp tags it "!".
bool IsQuoted(const YAML::Node& node) { return node.Tag() == "!"; }

// A plain scalar read as a YAML number: decimal, exponent, .inf, .nan.
std::optional<double> ParseNumber(const YAML::Node& node) {
  if (!node.IsScalar() || IsQuoted(node)) return std::nullopt;
  const std::string& text = node.Scalar();
  static const std::map<std::string, double, std::less<>> kSpecial = {
      {".inf", HUGE_VAL},   {".Inf", HUGE_VAL},   {".INF", HUGE_VAL},
      {"+.inf", HUGE_VAL},  {"+.Inf", HUGE_VAL},  {"+.INF", HUGE_VAL},
      {"-.inf", -HUGE_VAL}, {"-.Inf", -HUGE_VAL}, {"-.INF", -HUGE_VAL},
      {".nan", kNaN},       {".NaN", kNaN},       {".NAN", kNaN}};
  if (auto it = kSpecial.find(text); it != kSpecial.end()) return it->second;
  if (text.empty() ||
      text.find_first_not_of("0123456789+-.eE") != std::string::npos) {
    return std::nullopt;
  }
  double value = 0;
  if (!absl::SimpleAtod(text, &value)) return std::nullopt;
  return value;
}

// Levenshtein distance, for "did you mean" hints on misspelt keys.
int EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string JoinPath(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string IndexPath(absl::string_view parent, int i) {
  return absl::StrCat(parent, "[", i, "]");
}

std::string QuoteScalar(absl::string_view text) {
  constexpr size_t kMax = 40;
  if (text.size() > kMax) {
    return absl::StrCat("'", text.substr(0, kMax), "...'");
  }
  return absl::StrCat("'", text, "'");
}

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return QuoteScalar(node.Scalar());
  }
}

bool LineIndentedWithTab(absl::string_view text, int line) {
  size_t start = 0;
  for (int i = 1; i < line && start != absl::string_view::npos; ++i) {
    start = text.find('\n', start);
    if (start != absl::string_view::npos) ++start;
  }
  if (start == absl::string_view::npos) return false;
  for (size_t i = start; i < text.size() && (text[i] == ' ' || text[i] == '\t');
       ++i) {
    if (text[i] == '\t') return true;
  }
  return false;
}

constexpr absl::string_view kDurationHelp =
    "a duration is one or more <number><unit> with units ms, s, m, h, d, "
    "e.g. 90s, 10m, 1h30m, 1.5h";

std::optional<double> ParseDurationSeconds(absl::string_view text,
                                           std::string* error) {
  static const std::map<std::string, double, std::less<>> kUnits = {
      {"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  if (text.empty()) {
    *error = std::string(kDurationHelp);
    return std::nullopt;
  }
  double total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t number_end = text.find_first_not_of("0123456789.", pos);
    const absl::string_view number = text.substr(pos, number_end - pos);
    double value = 0;
    if (number.empty() || number.front() == '.' || number.back() == '.' ||
        !absl::SimpleAtod(number, &value)) {
      *error = absl::StrCat(QuoteScalar(text),
                            " is not a duration: ", kDurationHelp);
      return std::nullopt;
    }
    if (number_end == absl::string_view::npos) {
      *error = absl::StrCat(QuoteScalar(text), " has no unit: write e.g. ",
                            text, "s or ", text, "m (units ms, s, m, h, d)");
      return std::nullopt;
    }
    size_t unit_end = text.find_first_of("0123456789.", number_end);
    if (unit_end == absl::string_view::npos) unit_end = text.size();
    const auto unit =
        kUnits.find(text.substr(number_end, unit_end - number_end));
    if (unit == kUnits.end()) {
      *error = absl::StrCat(QuoteScalar(text),
                            " is not a duration: ", kDurationHelp);
      return std::nullopt;
    }
    total += value * unit->second;
    pos = unit_end;
  }
  if (total <= 0) {
    *error = absl::StrCat("must be greater than zero (", text, ")");
    return std::nullopt;
  }
  if (total > kMaxDurationSeconds) {
    *error = absl::StrCat("is too long (", text, ")");
    return std::nullopt;
  }
  return total;
}

void YamlReader::Record(const std::string& path, const YAML::Mark& mark) {
  marks_.emplace(path, ToPosition(mark));
}

YamlReader::Position YamlReader::PositionOf(std::string path) const {
  while (true) {
    if (auto it = marks_.find(path); it != marks_.end()) return it->second;
    if (path.empty()) return {};
    path = ParentPath(path);
  }
}

void YamlReader::Error(const std::string& path, const YAML::Mark& mark,
                       std::string message) {
  auto it = marks_.find(path);
  AddError(path, it != marks_.end() ? it->second : ToPosition(mark),
           std::move(message));
}

void YamlReader::ErrorAt(const std::string& path, const YAML::Mark& mark,
                         std::string message) {
  AddError(path, ToPosition(mark), std::move(message));
}

void YamlReader::AddError(const std::string& path, Position position,
                          std::string message) {
  errors_.push_back(
      SpecError{path, std::move(message), position.line, position.column});
  poisoned_.insert(path);
}

bool YamlReader::IsPoisoned(absl::string_view path) const {
  for (const std::string& bad : poisoned_) {
    if (!bad.empty() && path.substr(0, bad.size()) == bad &&
        (path.size() == bad.size() || path[bad.size()] == '.' ||
         path[bad.size()] == '[')) {
      return true;
    }
  }
  return false;
}

YamlReader::Fields YamlReader::Mapping(
    const YAML::Node& node, const std::string& path,
    std::initializer_list<absl::string_view> known) {
  Fields fields;
  if (!node.IsMap()) {
    Error(path, node.Mark(),
          absl::StrCat(path.empty() ? "a study " : "",
                       "must be a mapping (key: value lines), not ",
                       DescribeNode(node)));
    return fields;
  }
  std::map<std::string, int> first_line;
  for (const auto& entry : node) {
    const YAML::Node& key_node = entry.first;
    if (!key_node.IsScalar()) {
      ErrorAt(path, key_node.Mark(), "keys must be plain words");
      continue;
    }
    const std::string& key = key_node.Scalar();
    const std::string key_path = JoinPath(path, key);
    if (auto [it, inserted] =
            first_line.emplace(key, ToPosition(key_node.Mark()).line);
        !inserted) {
      ErrorAt(key_path, key_node.Mark(),
              absl::StrCat("duplicated key (first at line ", it->second, ")"));
      continue;
    }
    if (known.size() > 0 &&
        std::find(known.begin(), known.end(), key) == known.end()) {
      std::string message = absl::StrCat(
          "unknown key (known keys: ", absl::StrJoin(known, ", "), ")");
      for (absl::string_view candidate : known) {
        if (EditDistance(absl::AsciiStrToLower(key), candidate) <= 2) {
          absl::StrAppend(&message, "; did you mean '", candidate, "'?");
          break;
        }
      }
      ErrorAt(key_path, key_node.Mark(), std::move(message));
      continue;
    }
    Record(key_path, key_node.Mark());
    if (known.size() == 0 || !entry.second.IsNull()) {
      fields.emplace(key, entry.second);
    }
  }
  return fields;
}

bool YamlReader::IsList(const YAML::Node& node, const std::string& path,
                        absl::string_view example) {
  if (node.IsSequence()) return true;
  Error(path, node.Mark(),
        absl::StrCat("must be a list, e.g. ", example, ", not ",
                     DescribeNode(node)));
  return false;
}

std::optional<std::string> YamlReader::ScalarText(const YAML::Node& node,
                                                  const std::string& path) {
  if (node.IsScalar()) return node.Scalar();
  Error(path, node.Mark(),
        absl::StrCat("must be a string, not ", DescribeNode(node)));
  return std::nullopt;
}

std::optional<std::string> YamlReader::String(const Fields& fields,
                                              const std::string& parent,
                                              absl::string_view key) {
  auto it = fields.find(std::string(key));
  if (it == fields.end()) return std::nullopt;
  return ScalarText(it->second, JoinPath(parent, key));
}

std::optional<double> YamlReader::Number(const YAML::Node& node,
                                         const std::string& path) {
  std::optional<double> value = ParseNumber(node);
  if (!value) {
    Error(path, node.Mark(),
          absl::StrCat("must be a number, not ",
                       IsQuoted(node) ? "a quoted string " : "",
                       DescribeNode(node)));
  }
  return value;
}

std::optional<int64_t> YamlReader::Integer(const YAML::Node& node,
                                           const std::string& path,
                                           int64_t min) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (node.IsScalar() && !IsQuoted(node)) {
    int64_t value = 0;
    if (absl::SimpleAtoi(node.Scalar(), &value)) {
      if (value < min) {
        Error(path, node.Mark(),
              absl::StrCat("must be at least ", min, " (", value, ")"));
      } else if (value > kMax) {
        Error(path, node.Mark(),
              absl::StrCat("must be at most ", kMax, " (", value, ")"));
      } else {
        return value;
      }
      return std::nullopt;
    }
  }
  Error(path, node.Mark(),
        absl::StrCat("must be an integer, not ",
                     IsQuoted(node) ? "a quoted string " : "",
                     DescribeNode(node)));
  return std::nullopt;
}

std::optional<google::protobuf::Duration> YamlReader::DurationField(
    const Fields& fields, const std::string& parent, absl::string_view key) {
  auto it = fields.find(std::string(key));
  if (it == fields.end()) return std::nullopt;
  const std::string path = JoinPath(parent, key);
  std::optional<std::string> text = ScalarText(it->second, path);
  if (!text) return std::nullopt;
  std::string error;
  std::optional<double> seconds = ParseDurationSeconds(*text, &error);
  if (!seconds) {
    Error(path, it->second.Mark(), std::move(error));
    return std::nullopt;
  }
  const double total = *seconds;
  const double whole = std::floor(total);
  google::protobuf::Duration duration;
  duration.set_seconds(static_cast<int64_t>(whole));
  duration.set_nanos(static_cast<int32_t>(
      std::min(std::round((total - whole) * 1e9), 999'999'999.0)));
  return duration;
}

std::optional<uint64_t> YamlReader::Unsigned(const YAML::Node& node,
                                             const std::string& path) {
  uint64_t value = 0;
  if (node.IsScalar() && !IsQuoted(node) &&
      absl::SimpleAtoi(node.Scalar(), &value)) {
    return value;
  }
  Error(path, node.Mark(),
        absl::StrCat("must be a non-negative integer, not ",
                     IsQuoted(node) ? "a quoted string " : "",
                     DescribeNode(node)));
  return std::nullopt;
}

std::optional<google::protobuf::Struct> YamlReader::FreeFormStruct(
    const YAML::Node& node, const std::string& path) {
  if (!node.IsMap()) {
    Error(path, node.Mark(),
          absl::StrCat("must be a mapping (key: value lines), not ",
                       DescribeNode(node)));
    return std::nullopt;
  }
  google::protobuf::Value value;
  ToValue(node, path, 0, &value);
  return value.struct_value();
}

void YamlReader::ToValue(const YAML::Node& node, const std::string& path,
                         int depth, google::protobuf::Value* out) {
  if (depth > kMaxFreeFormDepth || ++free_form_values_ > kMaxFreeFormValues) {
    if (!free_form_too_large_) {
      Error(path, node.Mark(), "too large or too deeply nested");
      free_form_too_large_ = true;
    }
    return;
  }
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      google::protobuf::Struct* fields = out->mutable_struct_value();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          ErrorAt(path, entry.first.Mark(), "keys must be plain words");
          continue;
        }
        const std::string key_path = JoinPath(path, entry.first.Scalar());
        Record(key_path, entry.first.Mark());
        ToValue(entry.second, key_path, depth + 1,
                &(*fields->mutable_fields())[entry.first.Scalar()]);
      }
      return;
    }
    case YAML::NodeType::Sequence: {
      google::protobuf::ListValue* list = out->mutable_list_value();
      int i = 0;
      for (const YAML::Node& item : node) {
        Record(IndexPath(path, i), item.Mark());
        ToValue(item, IndexPath(path, i), depth + 1, list->add_values());
        ++i;
      }
      return;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (!IsQuoted(node)) {
        if (text == "true" || text == "True" || text == "TRUE") {
          out->set_bool_value(true);
          return;
        }
        if (text == "false" || text == "False" || text == "FALSE") {
          out->set_bool_value(false);
          return;
        }
        if (std::optional<double> number = ParseNumber(node)) {
          out->set_number_value(*number);
          return;
        }
      }
      out->set_string_value(text);
      return;
    }
    default:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return;
  }
}

}  // namespace vernier::controller
