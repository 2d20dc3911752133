// `vernier ls`, `vernier trials` and `vernier best` on a database file.
#include <filesystem>
#include <iostream>

#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "controller/study_summary.h"
#include "google/protobuf/util/json_util.h"
#include "storage/sqlite_store.h"

namespace vernier::cli {
namespace {

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

template <typename Message>
std::string ToJsonArray(const std::vector<Message>& messages) {
  std::vector<std::string> items;
  for (const Message& message : messages) items.push_back(ToJson(message));
  return "[" + absl::StrJoin(items, ",\n ") + "]";
}

absl::StatusOr<std::unique_ptr<storage::Store>> OpenExisting(
    const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError("no database at " + path + " (use --db PATH)");
  }
  return storage::OpenSqliteStore(path);
}

// The named study, or the only one when no name is given.
absl::StatusOr<v1::Study> ResolveStudy(storage::Store& store,
                                       const std::string& name) {
  if (!name.empty()) return store.FindStudy(name);
  absl::StatusOr<std::vector<v1::Study>> studies = store.ListStudies();
  if (!studies.ok()) return studies.status();
  if (studies->size() == 1) return studies->front();
  if (studies->empty())
    return absl::NotFoundError("the database holds no study");
  std::vector<std::string> names;
  for (const v1::Study& study : *studies) names.push_back(study.name());
  return absl::InvalidArgumentError(
      "the database holds " + std::to_string(names.size()) +
      " studies; name one: " + absl::StrJoin(names, ", "));
}

int Fail(const absl::Status& status) {
  std::cerr << status.message() << "\n";
  return absl::IsNotFound(status) || absl::IsInvalidArgument(status)
             ? kExitBadInput
             : kExitError;
}

}  // namespace

int ListStudies(const QueryArgs& args) {
  auto store = OpenExisting(args.db_path);
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<std::vector<v1::Study>> studies = (*store)->ListStudies();
  if (!studies.ok()) return Fail(studies.status());
  if (args.json) {
    std::cout << ToJsonArray(*studies) << "\n";
    return kExitOk;
  }
  std::vector<controller::StudySummary> summaries;
  for (const v1::Study& study : *studies) {
    absl::StatusOr<std::vector<v1::Trial>> trials =
        (*store)->ListTrials(study.id());
    if (!trials.ok()) return Fail(trials.status());
    summaries.push_back(
        controller::Summarize(study.spec().objective(), *trials));
  }
  std::cout << StudiesTable(*studies, summaries);
  return kExitOk;
}

int ListTrials(const QueryArgs& args) {
  auto store = OpenExisting(args.db_path);
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<v1::Study> study = ResolveStudy(**store, args.study);
  if (!study.ok()) return Fail(study.status());
  absl::StatusOr<std::vector<v1::Trial>> trials =
      (*store)->ListTrials(study->id());
  if (!trials.ok()) return Fail(trials.status());
  std::cout << (args.json ? ToJsonArray(*trials) + "\n"
                          : TrialsTable(study->spec(), *trials));
  return kExitOk;
}

int ShowBest(const QueryArgs& args) {
  auto store = OpenExisting(args.db_path);
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<v1::Study> study = ResolveStudy(**store, args.study);
  if (!study.ok()) return Fail(study.status());
  absl::StatusOr<std::vector<v1::Trial>> trials =
      (*store)->ListTrials(study->id());
  if (!trials.ok()) return Fail(trials.status());
  const controller::StudySummary summary =
      controller::Summarize(study->spec().objective(), *trials);
  if (args.json) {
    if (!summary.best.has_value()) {
      std::cerr << "study " << study->name()
                << " has no successful trial yet\n";
      return kExitBadInput;
    }
    std::cout << ToJson(*summary.best) << "\n";
    return kExitOk;
  }
  std::cout << StudyReport(*study, summary);
  return summary.best.has_value() ? kExitOk : kExitBadInput;
}

}  // namespace vernier::cli
