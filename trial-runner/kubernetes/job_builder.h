// The batch/v1 Job (and its token Secret) that runs one trial.
//
// A Job starts from worker.kubernetes.job_template (a Job, or a pod template
// wrapped into one) with ${params.NAME} substituted in every string, and
// Vernier sets what it owns: the name, namespace and labels (on the Job and
// its pod template), backoffLimit 0 (retries are Vernier's),
// activeDeadlineSeconds from max_runtime, ttlSecondsAfterFinished,
// restartPolicy Never, and on the first container its image, command,
// workingDir, resources (requests = limits) and environment. The trial's
// token reaches the pod from a Secret (VERNIER_TOKEN via secretKeyRef), never
// as a plain value; the Secret is owned by the Job, so it goes with it.
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_JOB_BUILDER_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_JOB_BUILDER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/map.h"
#include "google/protobuf/struct.pb.h"
#include "nlohmann/json.hpp"
#include "trial-runner/executor.h"
#include "vernier/v1/study.pb.h"

namespace vernier::kubernetes {

// Labels on every Job, pod and Secret Vernier creates.
inline constexpr char kStudyLabel[] = "vernier.dev/study";
inline constexpr char kTrialLabel[] = "vernier.dev/trial";
inline constexpr char kOwnerLabel[] = "vernier.dev/owner";
// The Secret key holding the trial's token.
inline constexpr char kTokenKey[] = "token";

// One trial, as its Job needs it.
struct TrialJob {
  std::string study;
  int64_t trial_id = 0;
  // The server that owns the Job: a label value (see OwnerLabelValue).
  std::string owner;
  // The container's argv, parameters substituted; empty: the image's (or the
  // template's) own.
  std::vector<std::string> command;
  // Environment of the first container (VERNIER_TOKEN excluded: it comes
  // from the Secret).
  std::map<std::string, std::string> env;
  // Substituted into the template's strings.
  google::protobuf::Map<std::string, google::protobuf::Value> parameters;
  // Zero: no deadline.
  absl::Duration max_runtime = absl::ZeroDuration();
  // A path in the image; empty: the image's.
  std::string working_dir;
};

// The TrialJob of a launch: its argv, environment (without VERNIER_TOKEN and
// VERNIER_TLS_CA, a file of the server's machine), VERNIER_ENDPOINT set to
// the pods' `report_endpoint`, parameters, max_runtime and working_dir.
TrialJob TrialJobFromLaunch(const trial_runner::TrialLaunch& launch,
                            const std::string& owner,
                            const std::string& report_endpoint);

// "vernier-<study>-<trial id>", a DNS-1123 label of at most 63 characters.
std::string JobName(absl::string_view study, int64_t trial_id);
// The name of a Job's token Secret.
std::string SecretName(absl::string_view job_name);
// `text` made a valid label value: at most 63 of [A-Za-z0-9._-], starting
// and ending alphanumeric.
std::string OwnerLabelValue(absl::string_view text);

// The Job manifest. INVALID_ARGUMENT when the template is not a Job or pod
// template, or names a parameter the trial lacks.
absl::StatusOr<nlohmann::json> BuildJob(const v1::KubernetesWorkerSpec& spec,
                                        const TrialJob& trial);

// The Secret holding `token`, owned by the Job named `job_name` whose uid is
// `job_uid` (garbage-collected with it); no owner when `job_uid` is empty.
nlohmann::json BuildTokenSecret(const v1::KubernetesWorkerSpec& spec,
                                const TrialJob& trial,
                                const std::string& job_name,
                                const std::string& job_uid,
                                const std::string& token);

// A google.protobuf.Struct as JSON; integral numbers become integers.
nlohmann::json StructToJson(const google::protobuf::Struct& object);

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_JOB_BUILDER_H_
