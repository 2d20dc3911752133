#include "trial-runner/kubernetes/job_builder.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "trial-runner/params_template.h"

namespace vernier::kubernetes {
namespace {

constexpr absl::Duration kDefaultTtl = absl::Hours(1);
constexpr int kMaxName = 63;

nlohmann::json ValueToJson(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      const double number = value.number_value();
      if (std::isfinite(number) && number == std::trunc(number) &&
          std::fabs(number) < 9.0e15) {
        return static_cast<int64_t>(number);
      }
      return number;
    }
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kBoolValue:
      return value.bool_value();
    case google::protobuf::Value::kStructValue:
      return StructToJson(value.struct_value());
    case google::protobuf::Value::kListValue: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& item : value.list_value().values()) {
        list.push_back(ValueToJson(item));
      }
      return list;
    }
    default:
      return nullptr;
  }
}

// Replaces ${params.X} in every string of `node`, in place.
absl::Status Substitute(
    nlohmann::json& node,
    const google::protobuf::Map<std::string, google::protobuf::Value>& params) {
  if (node.is_string()) {
    absl::StatusOr<std::string> text =
        trial_runner::SubstituteParams(node.get<std::string>(), params);
    if (!text.ok()) return text.status();
    node = *std::move(text);
  } else if (node.is_structured()) {
    for (auto& child : node) {
      if (absl::Status s = Substitute(child, params); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

nlohmann::json Labels(const TrialJob& trial) {
  return {{kStudyLabel, OwnerLabelValue(trial.study)},
          {kTrialLabel, absl::StrCat(trial.trial_id)},
          {kOwnerLabel, trial.owner}};
}

// Merges our labels into object["metadata"]["labels"]; ours win.
void AddLabels(nlohmann::json& object, const nlohmann::json& labels) {
  nlohmann::json& target = object["metadata"]["labels"];
  if (!target.is_object()) target = nlohmann::json::object();
  for (const auto& [key, value] : labels.items()) target[key] = value;
}

}  // namespace

std::string OwnerLabelValue(absl::string_view text) {
  std::string out;
  for (char c : text) {
    out.push_back(
        absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' ? c : '-');
  }
  if (out.size() > kMaxName) out.resize(kMaxName);
  while (!out.empty() && !absl::ascii_isalnum(out.back())) out.pop_back();
  while (!out.empty() && !absl::ascii_isalnum(out.front())) out.erase(0, 1);
  return out.empty() ? "vernier" : out;
}

TrialJob TrialJobFromLaunch(const trial_runner::TrialLaunch& launch,
                            const std::string& owner,
                            const std::string& report_endpoint) {
  TrialJob job;
  job.study = launch.study;
  job.trial_id = launch.trial_id;
  job.owner = owner;
  job.command = launch.argv;
  job.env = launch.env;
  job.env.erase("VERNIER_TOKEN");
  job.env.erase("VERNIER_TLS_CA");
  job.env["VERNIER_ENDPOINT"] = report_endpoint;
  job.parameters = launch.parameters;
  job.max_runtime = launch.max_runtime;
  job.working_dir = launch.working_dir;
  return job;
}

std::string JobName(absl::string_view study, int64_t trial_id) {
  const std::string suffix = absl::StrCat("-", trial_id);
  std::string name = absl::StrCat("vernier-", study);
  if (name.size() + suffix.size() > kMaxName) {
    name.resize(kMaxName - suffix.size());
  }
  while (name.back() == '-') name.pop_back();
  return name + suffix;
}

std::string SecretName(absl::string_view job_name) {
  return absl::StrCat(job_name, "-token");
}

nlohmann::json StructToJson(const google::protobuf::Struct& object) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : object.fields())
    out[key] = ValueToJson(value);
  return out;
}

absl::StatusOr<nlohmann::json> BuildJob(const v1::KubernetesWorkerSpec& spec,
                                        const TrialJob& trial) {
  nlohmann::json job = nlohmann::json::object();
  if (spec.has_job_template()) {
    job = StructToJson(spec.job_template());
    if (absl::Status s = Substitute(job, trial.parameters); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("worker.kubernetes.job_template: ", s.message()));
    }
    // A pod template (spec.containers at the top) goes inside a Job.
    if (!job.contains("kind") && job["spec"].is_object() &&
        job["spec"].contains("containers")) {
      job = {{"spec", {{"template", std::move(job)}}}};
    }
  }
  const std::string name = JobName(trial.study, trial.trial_id);
  const nlohmann::json labels = Labels(trial);
  job["apiVersion"] = "batch/v1";
  job["kind"] = "Job";
  job["metadata"]["name"] = name;
  job["metadata"]["namespace"] = spec.namespace_();
  job["metadata"].erase("generateName");
  AddLabels(job, labels);
  nlohmann::json& job_spec = job["spec"];
  job_spec["backoffLimit"] = 0;
  if (trial.max_runtime > absl::ZeroDuration()) {
    job_spec["activeDeadlineSeconds"] =
        std::max<int64_t>(1, absl::ToInt64Seconds(trial.max_runtime));
  } else {
    job_spec.erase("activeDeadlineSeconds");
  }
  job_spec["ttlSecondsAfterFinished"] = absl::ToInt64Seconds(
      spec.has_ttl_after_finished()
          ? absl::Seconds(spec.ttl_after_finished().seconds())
          : kDefaultTtl);
  nlohmann::json& pod = job_spec["template"];
  AddLabels(pod, labels);
  nlohmann::json& pod_spec = pod["spec"];
  pod_spec["restartPolicy"] = "Never";
  nlohmann::json& containers = pod_spec["containers"];
  if (!containers.is_array() || containers.empty()) {
    containers = nlohmann::json::array({nlohmann::json::object()});
  }
  nlohmann::json& container = containers[0];
  if (!container.is_object()) {
    return absl::InvalidArgumentError(
        "worker.kubernetes.job_template: containers[0] must be a mapping");
  }
  if (!container.contains("name")) container["name"] = "trial";
  if (!spec.image().empty()) container["image"] = spec.image();
  if (!trial.command.empty()) {
    container["command"] = trial.command;
    container.erase("args");
  }
  if (!trial.working_dir.empty()) container["workingDir"] = trial.working_dir;
  if (!spec.resources().empty()) {
    for (const char* kind : {"requests", "limits"}) {
      nlohmann::json& quantities = container["resources"][kind];
      if (!quantities.is_object()) quantities = nlohmann::json::object();
      for (const auto& [resource, quantity] : spec.resources()) {
        quantities[resource] = quantity;
      }
    }
  }
  // The template's variables stay unless Vernier sets the same name.
  nlohmann::json env = nlohmann::json::array();
  if (container["env"].is_array()) {
    for (const nlohmann::json& var : container["env"]) {
      const std::string var_name = var.value("name", "");
      if (!trial.env.contains(var_name) && var_name != "VERNIER_TOKEN") {
        env.push_back(var);
      }
    }
  }
  for (const auto& [var_name, value] : trial.env) {
    env.push_back({{"name", var_name}, {"value", value}});
  }
  env.push_back(
      {{"name", "VERNIER_TOKEN"},
       {"valueFrom",
        {{"secretKeyRef", {{"name", SecretName(name)}, {"key", kTokenKey}}}}}});
  container["env"] = std::move(env);
  return job;
}

nlohmann::json BuildTokenSecret(const v1::KubernetesWorkerSpec& spec,
                                const TrialJob& trial,
                                const std::string& job_name,
                                const std::string& job_uid,
                                const std::string& token) {
  nlohmann::json secret = {{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata",
                            {{"name", SecretName(job_name)},
                             {"namespace", spec.namespace_()},
                             {"labels", Labels(trial)}}},
                           {"type", "Opaque"},
                           {"data", {{kTokenKey, absl::Base64Escape(token)}}}};
  if (!job_uid.empty()) {
    secret["metadata"]["ownerReferences"] =
        nlohmann::json::array({{{"apiVersion", "batch/v1"},
                                {"kind", "Job"},
                                {"name", job_name},
                                {"uid", job_uid}}});
  }
  return secret;
}

}  // namespace vernier::kubernetes
