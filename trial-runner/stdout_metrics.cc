#include "trial-runner/stdout_metrics.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vernier::trial_runner {
namespace {

constexpr absl::string_view kStepKey = "step";

// Characters of a key: metric names such as `val_loss`, `train/acc`, `top-5`.
// Since '-' belongs here, `--C=3` yields the key `--C`, not `C`.
bool IsKeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '-' || c == '.' || c == '/';
}

bool IsValueChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '+' || c == '-';
}

// What may follow a value: a separator, or the closing of a bracket the
// token was printed in. Anything else (`acc=97%`) makes the value malformed.
bool EndsValue(char c) {
  return absl::ascii_isspace(static_cast<unsigned char>(c)) || c == ',' ||
         c == ';' || c == ')' || c == ']' || c == '}' || c == '|';
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

bool IsWanted(absl::string_view key,
              const std::vector<std::string>& metric_names) {
  return std::find(metric_names.begin(), metric_names.end(), key) !=
         metric_names.end();
}

// A step: decimal digits only, within int64.
std::optional<int64_t> ParseStep(absl::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      })) {
    return std::nullopt;
  }
  int64_t step = 0;
  if (!absl::SimpleAtoi(text, &step)) return std::nullopt;
  return step;
}

// Collects what one line yields, whatever its form.
class LineResult {
 public:
  void SetStep(std::optional<int64_t> step) {
    if (step.has_value()) {
      step_ = step;
    } else {
      bad_step_ = true;
    }
  }
  void SetMetric(absl::string_view name, double value) {
    metrics_[std::string(name)] = value;
  }
  std::optional<ParsedMetrics> Finish() && {
    if (bad_step_ || metrics_.empty()) return std::nullopt;
    return ParsedMetrics{step_, std::move(metrics_)};
  }

 private:
  std::optional<int64_t> step_;
  bool bad_step_ = false;
  std::map<std::string, double> metrics_;
};

std::optional<ParsedMetrics> ParseKeyValues(
    absl::string_view line, const std::vector<std::string>& metric_names) {
  LineResult result;
  const size_t n = line.size();
  for (size_t i = 0; i < n; ++i) {
    if (line[i] != '=') continue;
    // `==`, `<=`, `>=`, `!=` are comparisons, not assignments.
    if ((i + 1 < n && line[i + 1] == '=') ||
        (i > 0 && (line[i - 1] == '=' || line[i - 1] == '<' ||
                   line[i - 1] == '>' || line[i - 1] == '!'))) {
      continue;
    }
    size_t key_end = i;
    while (key_end > 0 && IsBlank(line[key_end - 1])) --key_end;
    size_t key_begin = key_end;
    while (key_begin > 0 && IsKeyChar(line[key_begin - 1])) --key_begin;
    const absl::string_view key = line.substr(key_begin, key_end - key_begin);
    if (key.empty()) continue;
    const bool is_step = key == kStepKey;
    if (!is_step && !IsWanted(key, metric_names)) continue;

    size_t value_begin = i + 1;
    while (value_begin < n && IsBlank(line[value_begin])) ++value_begin;
    size_t value_end = value_begin;
    while (value_end < n && IsValueChar(line[value_end])) ++value_end;
    const bool well_ended = value_end == n || EndsValue(line[value_end]);
    const absl::string_view value =
        line.substr(value_begin, value_end - value_begin);

    if (is_step) {
      result.SetStep(well_ended ? ParseStep(value) : std::nullopt);
    } else if (well_ended) {
      std::optional<double> parsed = ParseMetricValue(value);
      // `Final loss=0.5.`: a full stop ends the sentence, not the number.
      if (!parsed.has_value() && value.size() > 1 && value.back() == '.') {
        parsed = ParseMetricValue(value.substr(0, value.size() - 1));
      }
      if (parsed.has_value()) result.SetMetric(key, *parsed);
    }
    i = value_end - 1;  // value_end > i: resume after the value
  }
  return std::move(result).Finish();
}

// `text` with the bare words NaN, Infinity, -Infinity (and other spellings
// ParseMetricValue accepts) outside strings turned into JSON strings, so
// that what Python's json.dumps writes parses as JSON.
std::string QuoteNonFiniteWords(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out.push_back(c);
      continue;
    }
    const bool minus =
        c == '-' && i + 1 < text.size() &&
        absl::ascii_isalpha(static_cast<unsigned char>(text[i + 1]));
    if (minus || absl::ascii_isalpha(static_cast<unsigned char>(c))) {
      size_t end = minus ? i + 1 : i;
      while (end < text.size() &&
             absl::ascii_isalpha(static_cast<unsigned char>(text[end]))) {
        ++end;
      }
      const absl::string_view word = text.substr(i, end - i);
      const std::string lower = absl::AsciiStrToLower(word.substr(minus));
      if (lower == "nan" || lower == "inf" || lower == "infinity") {
        absl::StrAppend(&out, "\"", word, "\"");
      } else {
        absl::StrAppend(&out, word);
      }
      i = end - 1;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// nullopt when `text` is not a JSON object, so the caller tries key=value.
std::optional<std::optional<ParsedMetrics>> ParseJsonObject(
    absl::string_view text, const std::vector<std::string>& metric_names) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(QuoteNonFiniteWords(text), nullptr,
                                   /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!object.is_object()) return std::nullopt;

  LineResult result;
  for (const auto& [key, value] : object.items()) {
    if (key == kStepKey) {
      if (value.is_number_unsigned()) {
        result.SetStep(value.get<int64_t>());
      } else if (value.is_number_integer() && value.get<int64_t>() >= 0) {
        result.SetStep(value.get<int64_t>());
      } else {
        result.SetStep(std::nullopt);
      }
    } else if (IsWanted(key, metric_names)) {
      if (value.is_number()) {
        result.SetMetric(key, value.get<double>());
      } else if (value.is_string()) {
        if (std::optional<double> parsed =
                ParseMetricValue(value.get<std::string>())) {
          result.SetMetric(key, *parsed);
        }
      }
    }
  }
  return std::move(result).Finish();
}

}  // namespace

std::optional<double> ParseMetricValue(absl::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
      return std::nullopt;
    }
  }
  if (text.empty()) return std::nullopt;
  // from_chars also reads nan, inf and infinity, in any case.
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] =
      std::from_chars(text.data(), end, value, std::chars_format::general);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<ParsedMetrics> ParseMetricLine(
    absl::string_view line, const std::vector<std::string>& metric_names) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
  if (trimmed.size() >= 2 && trimmed.front() == '{' && trimmed.back() == '}') {
    if (auto from_json = ParseJsonObject(trimmed, metric_names)) {
      return *std::move(from_json);
    }
  }
  return ParseKeyValues(line, metric_names);
}

}  // namespace vernier::trial_runner
