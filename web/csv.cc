#include "web/csv.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/time_util.h"

namespace vernier::web {
namespace {

std::string TextCell(std::string text) {
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' ||
                        text[0] == '@' || text[0] == '\t')) {
    text.insert(0, "'");
  }
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

// The shortest text that reads back as the same double.
std::string NumberCell(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buffer[32];
  const std::to_chars_result end =
      std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end.ptr);
}

std::string TimeCell(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return google::protobuf::util::TimeUtil::ToString(time);
}

}  // namespace

std::string TrialsToCsv(const v1::StudySpec& spec,
                        const std::vector<v1::Trial>& trials) {
  std::vector<std::string> metrics = {spec.objective().metric()};
  for (const std::string& metric : spec.objective().additional_metrics()) {
    metrics.push_back(metric);
  }
  std::vector<std::string> header = {"number", "state", "objective"};
  for (const v1::ParameterSpec& parameter : spec.parameters()) {
    header.push_back(TextCell(absl::StrCat("params.", parameter.name())));
  }
  for (const std::string& metric : metrics) {
    header.push_back(TextCell(absl::StrCat("metrics.", metric)));
  }
  for (const char* column : {"start_time", "end_time", "state_message"}) {
    header.push_back(column);
  }
  std::string csv = absl::StrCat(absl::StrJoin(header, ","), "\r\n");
  for (const v1::Trial& trial : trials) {
    std::vector<std::string> row = {
        absl::StrCat(trial.number()), v1::Trial::State_Name(trial.state()),
        trial.has_objective() ? NumberCell(trial.objective()) : ""};
    for (const v1::ParameterSpec& parameter : spec.parameters()) {
      auto value = trial.parameters().find(parameter.name());
      if (value == trial.parameters().end()) {
        row.push_back("");
      } else if (value->second.has_string_value()) {
        row.push_back(TextCell(value->second.string_value()));
      } else {
        row.push_back(NumberCell(value->second.number_value()));
      }
    }
    for (const std::string& metric : metrics) {
      auto value = trial.final_metrics().find(metric);
      row.push_back(value == trial.final_metrics().end()
                        ? ""
                        : NumberCell(value->second));
    }
    row.push_back(TimeCell(trial.start_time()));
    row.push_back(TimeCell(trial.end_time()));
    row.push_back(TextCell(trial.state_message()));
    absl::StrAppend(&csv, absl::StrJoin(row, ","), "\r\n");
  }
  return csv;
}

}  // namespace vernier::web
