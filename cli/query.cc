// The client subcommands: ls, show, trials, best (on a database file or a
// server) and submit, stop (on a server).
#include <filesystem>
#include <iostream>

#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "cli/format.h"
#include "cli/study_source.h"
#include "controller/study_summary.h"
#include "google/protobuf/util/json_util.h"

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
  if (!loaded->study.yaml().empty()) {
    std::cout << "\n" << loaded->study.yaml();
  }
  return kExitOk;
}

int ListTrials(const QueryArgs& args) {
  absl::StatusOr<StudyWithTrials> loaded = LoadStudy(args);
  if (!loaded.ok()) return Fail(loaded.status());
  std::cout << (args.json ? ToJsonArray(loaded->trials) + "\n"
                          : TrialsTable(loaded->study.spec(), loaded->trials));
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

}  // namespace vernier::cli
