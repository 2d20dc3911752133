// Reading what the API server sends: a Job's and a pod's status as a trial's
// fate, and any field of an API object without trusting its shape.
//
// Everything here accepts any JSON value and never throws: an answer from the
// API server (or from whatever answers in its place) may hold anything.
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_JOB_STATUS_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_JOB_STATUS_H_

#include <initializer_list>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace vernier::kubernetes {

// The value at `keys` under `object`, each key looked up in an object; a null
// value when a step is missing or not an object. The reference is to
// `object`'s own node (or to a static null): valid while `object` lives.
const nlohmann::json& JsonAt(const nlohmann::json& object,
                             std::initializer_list<const char*> keys);

// The string at `keys` (see JsonAt), or `fallback` when it is absent or not a
// string.
std::string StringAt(const nlohmann::json& object,
                     std::initializer_list<const char*> keys,
                     const std::string& fallback = "");

enum class JobPhase {
  kActive,            // not finished
  kSucceeded,         // condition Complete
  kFailed,            // condition Failed (its pod failed)
  kDeadlineExceeded,  // condition Failed with reason DeadlineExceeded
};

struct JobState {
  JobPhase phase = JobPhase::kActive;
  // The Failed condition's "reason: message", when failed.
  std::string reason;
};

JobState ReadJobState(const nlohmann::json& job);

// Why a pod cannot run yet: "unschedulable: <message>", "image pull
// back-off: <message>", ...; empty when it is not stuck.
std::string PodWaitingReason(const nlohmann::json& pod);

// Whether the pod's containers run or have run: phase Running or Succeeded,
// or its first container running or terminated.
bool PodHasRun(const nlohmann::json& pod);

// When the pod's first container started, as its status says (running or
// terminated startedAt); nullopt when it does not say.
std::optional<absl::Time> PodStartedAt(const nlohmann::json& pod);
// When it ended (terminated finishedAt); nullopt when it does not say.
std::optional<absl::Time> PodFinishedAt(const nlohmann::json& pod);

// The exit code of the pod's first container, once terminated.
std::optional<int> PodExitCode(const nlohmann::json& pod);

// The trial id in the vernier.dev/trial label of `object`; 0 when absent.
int64_t TrialIdOf(const nlohmann::json& object);

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_JOB_STATUS_H_
