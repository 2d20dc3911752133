// The client subcommands: ls, show, trials, best, cost (on a database file
// or a server) and submit, stop (on a server).
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "cli/format.h"
#include "cli/study_source.h"
#include "controller/cost_ledger.h"
#include "controller/proto_time.h"
#include "controller/study_summary.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace vernier::cli {
namespace {

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

template <typename Message>
std::string ToJsonArray(const std::vector<Message>& messages) {
  std::vector<std::string> items;
  for (const Message& message : messages) items.push_back(ToJson(message));
  return "[" + absl::StrJoin(items, ",\n ") + "]";
}

int Fail(const absl::Status& status) {
  std::cerr << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
      return kExitBadInput;
    default:
      return kExitError;
  }
}

// The study the arguments name, with its trials.
struct StudyWithTrials {
  v1::Study study;
  std::vector<v1::Trial> trials;
};

absl::StatusOr<StudyWithTrials> LoadStudy(const QueryArgs& args) {
  absl::StatusOr<std::unique_ptr<StudySource>> source =
      OpenStudySource(args.target);
  if (!source.ok()) return source.status();
  absl::StatusOr<v1::Study> study = ResolveStudy(**source, args.study);
  if (!study.ok()) return study.status();
  absl::StatusOr<std::vector<v1::Trial>> trials = (*source)->ListTrials(*study);
  if (!trials.ok()) return trials.status();
  return StudyWithTrials{*std::move(study), *std::move(trials)};
}


// "7d", "12h", "90m": absl's durations plus days.
std::optional<absl::Duration> ParseSince(const std::string& text) {
  if (absl::EndsWith(text, "d")) {
    double days = 0;
    if (!absl::SimpleAtod(text.substr(0, text.size() - 1), &days) ||
        days <= 0) {
      return std::nullopt;
    }
    return absl::Hours(24 * days);
  }
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) || duration <= absl::ZeroDuration())
    return std::nullopt;
  return duration;
}

struct Group {
  std::set<std::string> studies;
  int trials = 0;
  double cost = 0;
};

}  // namespace

int ListStudies(const QueryArgs& args) {
  absl::StatusOr<std::unique_ptr<StudySource>> source =
      OpenStudySource(args.target);
  if (!source.ok()) return Fail(source.status());
  absl::StatusOr<std::vector<v1::Study>> studies = (*source)->ListStudies();
  if (!studies.ok()) return Fail(studies.status());
  if (args.json) {
    std::cout << ToJsonArray(*studies) << "\n";
    return kExitOk;
  }
  std::vector<controller::StudySummary> summaries;
  for (const v1::Study& study : *studies) {
    absl::StatusOr<std::vector<v1::Trial>> trials =
        (*source)->ListTrials(study);
    if (!trials.ok()) return Fail(trials.status());
    summaries.push_back(
        controller::Summarize(study.spec().objective(), *trials));
  }
  std::cout << StudiesTable(*studies, summaries);
  return kExitOk;
}

int ShowStudy(const QueryArgs& args) {
  absl::StatusOr<StudyWithTrials> loaded = LoadStudy(args);
  if (!loaded.ok()) return Fail(loaded.status());
  if (args.json) {
    std::cout << ToJson(loaded->study) << "\n";
    return kExitOk;
  }
  std::cout << StudyReport(
      loaded->study,
      controller::Summarize(loaded->study.spec().objective(), loaded->trials));
  std::cout << CostReport(loaded->study, loaded->trials, absl::Now());
  if (!loaded->study.yaml().empty()) {
    std::cout << "\n" << loaded->study.yaml();
  }
  return kExitOk;
}

int ListTrials(const QueryArgs& args) {
  absl::StatusOr<StudyWithTrials> loaded = LoadStudy(args);
  if (!loaded.ok()) return Fail(loaded.status());
  std::cout << (args.json ? ToJsonArray(loaded->trials) + "\n"
                          : TrialsTable(loaded->study.spec(), loaded->trials,
                                        absl::Now()));
  return kExitOk;
}

int ShowBest(const QueryArgs& args) {
  absl::StatusOr<StudyWithTrials> loaded = LoadStudy(args);
  if (!loaded.ok()) return Fail(loaded.status());
  const controller::StudySummary summary =
      controller::Summarize(loaded->study.spec().objective(), loaded->trials);
  if (!summary.best.has_value()) {
    std::cerr << "study " << loaded->study.name()
              << " has no successful trial yet\n";
    return kExitBadInput;
  }
  std::cout << (args.json ? ToJson(*summary.best) + "\n"
                          : StudyReport(loaded->study, summary));
  return kExitOk;
}

int ShowLogs(const QueryArgs& args, int trial_number) {
  absl::StatusOr<StudyWithTrials> loaded = LoadStudy(args);
  if (!loaded.ok()) return Fail(loaded.status());
  for (const v1::Trial& trial : loaded->trials) {
    if (trial.number() != trial_number) continue;
    if (std::optional<std::string> log = ReadFile(trial.log_path())) {
      std::cout << *log;
      return kExitOk;
    }
    if (trial.log_tail().empty()) {
      std::cerr << "trial " << trial_number << " has no log here yet"
                << (trial.log_path().empty()
                        ? std::string()
                        : " (" + trial.log_path() + " cannot be read)")
                << "\n";
      return kExitError;
    }
    std::cerr << "(" << trial.log_path()
              << " cannot be read here; the last lines kept:)\n";
    std::cout << trial.log_tail() << "\n";
    return kExitOk;
  }
  std::cerr << "study " << loaded->study.name() << " has no trial "
            << trial_number << "\n";
  return kExitBadInput;
}

int Submit(const SubmitArgs& args) {
  std::optional<std::string> text = ReadFile(args.yaml_path);
  if (!text.has_value()) {
    std::cerr << args.yaml_path << ": cannot read the file\n";
    return kExitBadInput;
  }
  absl::StatusOr<std::unique_ptr<StudySource>> source =
      OpenStudySource(args.target);
  if (!source.ok()) return Fail(source.status());
  const std::string base_dir =
      std::filesystem::absolute(args.yaml_path).parent_path().string();
  absl::StatusOr<v1::Study> study = (*source)->Submit(*text, base_dir);
  if (!study.ok()) {
    // Validation errors come one per line, each naming its field and line.
    std::cerr << args.yaml_path << ": ";
    return Fail(study.status());
  }
  if (args.json) {
    std::cout << ToJson(*study) << "\n";
  } else {
    std::cout << "submitted study " << study->name() << " ("
              << StateName(study->state()) << ")\n";
  }
  return kExitOk;
}

int StopStudy(const QueryArgs& args) {
  absl::StatusOr<std::unique_ptr<StudySource>> source =
      OpenStudySource(args.target);
  if (!source.ok()) return Fail(source.status());
  absl::StatusOr<v1::Study> study = (*source)->Stop(args.study);
  if (!study.ok()) return Fail(study.status());
  if (args.json) {
    std::cout << ToJson(*study) << "\n";
  } else {
    std::cout << "study " << study->name() << ": " << StateName(study->state())
              << "\n";
  }
  return kExitOk;
}

int ShowCost(const CostArgs& args) {
  std::optional<absl::Duration> since;
  if (!args.since.empty()) {
    since = ParseSince(args.since);
    if (!since.has_value()) {
      std::cerr << "--since: '" << args.since
                << "' is not a duration such as 7d, 12h or 90m\n";
      return kExitBadInput;
    }
  }
  absl::StatusOr<std::unique_ptr<StudySource>> source =
      OpenStudySource(args.target);
  if (!source.ok()) return Fail(source.status());
  absl::StatusOr<std::vector<v1::Study>> studies = (*source)->ListStudies();
  if (!studies.ok()) return Fail(studies.status());

  const absl::Time now = absl::Now();
  // By (group, currency): studies priced in different currencies never add.
  std::map<std::pair<std::string, std::string>, Group> groups;
  for (const v1::Study& study : *studies) {
    const v1::StudySpec& spec = study.spec();
    if (controller::HourlyRate(spec) <= 0) continue;
    absl::StatusOr<std::vector<v1::Trial>> trials =
        (*source)->ListTrials(study);
    if (!trials.ok()) return Fail(trials.status());
    std::string key = study.name();
    if (args.by != "study") {
      auto it = spec.labels().find(args.by);
      key = it == spec.labels().end() ? "(none)" : it->second;
    }
    const std::string currency =
        spec.has_budget() ? spec.budget().currency() : "USD";
    const controller::CostLedger ledger(spec);
    Group& group = groups[{key, currency}];
    for (const v1::Trial& trial : *trials) {
      if (!trial.has_start_time()) continue;
      if (since.has_value() &&
          controller::FromProto(trial.start_time()) < now - *since) {
        continue;
      }
      group.studies.insert(study.name());
      ++group.trials;
      group.cost += ledger.TrialCost(trial, now);
    }
  }

  if (args.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& [key, group] : groups) {
      rows.push_back({{args.by, key.first},
                      {"currency", key.second},
                      {"studies", group.studies.size()},
                      {"trials", group.trials},
                      {"cost", group.cost}});
    }
    std::cout << rows.dump() << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, group] : groups) {
    rows.push_back({key.first, absl::StrCat(group.studies.size()),
                    absl::StrCat(group.trials),
                    absl::StrFormat("%.2f %s", group.cost, key.second)});
  }
  std::cout << RenderTable(
      {absl::AsciiStrToUpper(args.by), "STUDIES", "TRIALS", "COST"}, rows);
  return kExitOk;
}

}  // namespace vernier::cli
