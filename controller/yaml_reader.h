// YamlReader: typed, position-aware reading of a yaml-cpp tree, for the
// study loader (internal to the controller module).
//
// Every read that fails records a SpecError at the field's path, with the
// line and column of its key (or list item), instead of throwing; the caller
// goes on and so reports every problem at once. The reader also remembers the
// position of every path it has seen, so that errors found later on the proto
// (by ValidateStudySpec) can be placed in the YAML.
//
// Not thread-safe; one reader per document.
#ifndef VERNIER_CONTROLLER_YAML_READER_H_
#define VERNIER_CONTROLLER_YAML_READER_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "controller/study_yaml.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/struct.pb.h"
#include "yaml-cpp/yaml.h"

namespace vernier::controller {

// "parent.key", or "key" at the top.
std::string JoinPath(absl::string_view parent, absl::string_view key);
// "parent[i]".
std::string IndexPath(absl::string_view parent, int i);

// A scalar for an error message, quoted and shortened: 'abc'.
std::string QuoteScalar(absl::string_view text);

// What a user would call the node in an error: "a list", "a mapping", 'abc'.
std::string DescribeNode(const YAML::Node& node);

// True when line `line` (1-based) of `text` has a tab in its indentation.
bool LineIndentedWithTab(absl::string_view text, int line);

// Seconds of a duration such as "90s", "1h30m", "1.5h", "250ms", "2d"; an
// error message when it is malformed, not positive, or beyond the range of
// google.protobuf.Duration.
std::optional<double> ParseDurationSeconds(absl::string_view text,
                                           std::string* error);

class YamlReader {
 public:
  struct Position {
    int line = 0;  // 1-based; 0 when unknown
    int column = 0;
  };
  // The entries of a mapping, by key.
  using Fields = std::map<std::string, YAML::Node>;

  YamlReader() = default;
  YamlReader(const YamlReader&) = delete;
  YamlReader& operator=(const YamlReader&) = delete;

  // Remembers that `path` was written at `mark`.
  void Record(const std::string& path, const YAML::Mark& mark);
  // The position of `path`, or of its nearest recorded parent ("a.b[2].c",
  // "a.b[2]", "a.b", "a", "").
  Position PositionOf(std::string path) const;

  // An error on the value at `path`, placed at its recorded position (its key
  // or list item), else at `mark`. The path counts as poisoned.
  void Error(const std::string& path, const YAML::Mark& mark,
             std::string message);
  // An error placed exactly at `mark` (an unknown or duplicated key, ...).
  void ErrorAt(const std::string& path, const YAML::Mark& mark,
               std::string message);
  // Marks `path` as holding no value of the user's, without an error.
  void Poison(const std::string& path) { poisoned_.insert(path); }
  // True when `path` is, or lies under, a poisoned path: its value in the
  // spec is a placeholder, so rules about it would report nonsense.
  bool IsPoisoned(absl::string_view path) const;
  std::vector<SpecError> TakeErrors() { return std::move(errors_); }

  // The entries of the mapping `node`, recording each key's position, with
  // an error for each unknown, duplicated or non-scalar key (unknown ones with
  // the list of known keys and a guess at a misspelling). Entries with a null
  // value (`key:` or `key: ~`) count as absent. With `known` empty, any key
  // is accepted and null values are kept.
  Fields Mapping(const YAML::Node& node, const std::string& path,
                 std::initializer_list<absl::string_view> known);
  // True when `node` is a list; an error showing `example` otherwise.
  bool IsList(const YAML::Node& node, const std::string& path,
              absl::string_view example);

  // The text of a scalar (numbers included, as written).
  std::optional<std::string> ScalarText(const YAML::Node& node,
                                        const std::string& path);
  // ScalarText of fields[key], or nullopt when absent.
  std::optional<std::string> String(const Fields& fields,
                                    const std::string& parent,
                                    absl::string_view key);
  // A plain (unquoted) YAML number: decimal, exponent, .inf, .nan.
  std::optional<double> Number(const YAML::Node& node, const std::string& path);
  // A plain integer in [min, INT32_MAX].
  std::optional<int64_t> Integer(const YAML::Node& node,
                                 const std::string& path, int64_t min);
  // A plain non-negative integer that fits in 64 bits.
  std::optional<uint64_t> Unsigned(const YAML::Node& node,
                                   const std::string& path);
  // fields[key] as one of `names`; nullopt when absent or unknown.
  template <typename Enum>
  std::optional<Enum> EnumValue(
      const Fields& fields, const std::string& parent, absl::string_view key,
      std::initializer_list<std::pair<absl::string_view, Enum>> names);
  // fields[key] as a duration (see ParseDurationSeconds).
  std::optional<google::protobuf::Duration> DurationField(
      const Fields& fields, const std::string& parent, absl::string_view key);
  // A mapping of free-form values (algorithm settings): plain true/false
  // become bools, plain numbers numbers, null null, anything else a string.
  // Records the position of every nested key.
  std::optional<google::protobuf::Struct> FreeFormStruct(
      const YAML::Node& node, const std::string& path);

 private:
  void AddError(const std::string& path, Position position,
                std::string message);
  void ToValue(const YAML::Node& node, const std::string& path, int depth,
               google::protobuf::Value* out);

  std::vector<SpecError> errors_;
  std::map<std::string, Position> marks_;
  std::set<std::string> poisoned_;
  int free_form_values_ = 0;
  bool free_form_too_large_ = false;
};

template <typename Enum>
std::optional<Enum> YamlReader::EnumValue(
    const Fields& fields, const std::string& parent, absl::string_view key,
    std::initializer_list<std::pair<absl::string_view, Enum>> names) {
  std::optional<std::string> text = String(fields, parent, key);
  if (!text) return std::nullopt;
  std::vector<absl::string_view> choices;
  for (const auto& [name, value] : names) {
    if (*text == name) return value;
    choices.push_back(name);
  }
  Error(JoinPath(parent, key), fields.at(std::string(key)).Mark(),
        absl::StrCat("must be one of ", absl::StrJoin(choices, ", "), " (not ",
                     QuoteScalar(*text), ")"));
  return std::nullopt;
}

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_YAML_READER_H_
