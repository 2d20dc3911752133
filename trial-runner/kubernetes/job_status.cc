#include "trial-runner/kubernetes/job_status.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "trial-runner/kubernetes/job_builder.h"

namespace vernier::kubernetes {
namespace {

// The string `key` of `object`; empty when absent or not a string.
std::string Text(const nlohmann::json& object, const char* key) {
  return StringAt(object, {key});
}

}  // namespace

const nlohmann::json& JsonAt(const nlohmann::json& object,
                             std::initializer_list<const char*> keys) {
  static const nlohmann::json kNull;
  const nlohmann::json* node = &object;
  for (const char* key : keys) {
    if (!node->is_object()) return kNull;
    const auto it = node->find(key);
    if (it == node->end()) return kNull;
    node = &*it;
  }
  return *node;
}

std::string StringAt(const nlohmann::json& object,
                     std::initializer_list<const char*> keys,
                     const std::string& fallback) {
  const nlohmann::json& node = JsonAt(object, keys);
  return node.is_string() ? node.get<std::string>() : fallback;
}

JobState ReadJobState(const nlohmann::json& job) {
  JobState state;
  const nlohmann::json& conditions = JsonAt(job, {"status", "conditions"});
  if (!conditions.is_array()) return state;
  for (const nlohmann::json& condition : conditions) {
    if (Text(condition, "status") != "True") continue;
    const std::string type = Text(condition, "type");
    if (type == "Complete") {
      state.phase = JobPhase::kSucceeded;
      return state;
    }
    if (type == "Failed") {
      const std::string reason = Text(condition, "reason");
      state.phase = reason == "DeadlineExceeded" ? JobPhase::kDeadlineExceeded
                                                 : JobPhase::kFailed;
      state.reason = absl::StrCat(reason, ": ", Text(condition, "message"));
      return state;
    }
  }
  return state;
}

std::string PodWaitingReason(const nlohmann::json& pod) {
  const nlohmann::json& conditions = JsonAt(pod, {"status", "conditions"});
  if (conditions.is_array()) {
    for (const nlohmann::json& condition : conditions) {
      if (Text(condition, "type") == "PodScheduled" &&
          Text(condition, "status") == "False" &&
          Text(condition, "reason") == "Unschedulable") {
        return absl::StrCat("unschedulable: ", Text(condition, "message"));
      }
    }
  }
  const nlohmann::json& statuses = JsonAt(pod, {"status", "containerStatuses"});
  if (!statuses.is_array()) return "";
  for (const nlohmann::json& status : statuses) {
    const nlohmann::json& waiting = JsonAt(status, {"state", "waiting"});
    const std::string reason = Text(waiting, "reason");
    if (reason == "ImagePullBackOff" || reason == "ErrImagePull" ||
        reason == "InvalidImageName") {
      return absl::StrCat("image pull back-off (", reason,
                          "): ", Text(waiting, "message"));
    }
  }
  return "";
}

std::optional<int> PodExitCode(const nlohmann::json& pod) {
  const nlohmann::json& statuses = JsonAt(pod, {"status", "containerStatuses"});
  if (!statuses.is_array() || statuses.empty()) return std::nullopt;
  const nlohmann::json& code =
      JsonAt(statuses[0], {"state", "terminated", "exitCode"});
  if (!code.is_number_integer()) return std::nullopt;
  return code.get<int>();
}

bool PodHasRun(const nlohmann::json& pod) {
  const std::string phase = Text(JsonAt(pod, {"status"}), "phase");
  if (phase == "Running" || phase == "Succeeded") return true;
  const nlohmann::json& statuses = JsonAt(pod, {"status", "containerStatuses"});
  if (!statuses.is_array() || statuses.empty()) return false;
  return JsonAt(statuses[0], {"state", "running"}).is_object() ||
         JsonAt(statuses[0], {"state", "terminated"}).is_object();
}

// The RFC 3339 time `field` of the first container's `state` of `pod`.
std::optional<absl::Time> ContainerTime(const nlohmann::json& pod,
                                        const char* state, const char* field) {
  const nlohmann::json& statuses = JsonAt(pod, {"status", "containerStatuses"});
  if (!statuses.is_array() || statuses.empty()) return std::nullopt;
  const std::string text = Text(JsonAt(statuses[0], {"state", state}), field);
  absl::Time time;
  std::string error;
  if (text.empty() ||
      !absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return std::nullopt;
  }
  return time;
}

std::optional<absl::Time> PodStartedAt(const nlohmann::json& pod) {
  if (auto time = ContainerTime(pod, "running", "startedAt")) return time;
  return ContainerTime(pod, "terminated", "startedAt");
}

std::optional<absl::Time> PodFinishedAt(const nlohmann::json& pod) {
  return ContainerTime(pod, "terminated", "finishedAt");
}

int64_t TrialIdOf(const nlohmann::json& object) {
  const nlohmann::json& label =
      JsonAt(object, {"metadata", "labels", kTrialLabel});
  int64_t id = 0;
  if (!label.is_string() || !absl::SimpleAtoi(label.get<std::string>(), &id)) {
    return 0;
  }
  return id;
}

}  // namespace vernier::kubernetes
