#include "trial-runner/kubernetes/job_builder.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace vernier::kubernetes {
namespace {

using ::testing::HasSubstr;

v1::KubernetesWorkerSpec Spec() {
  v1::KubernetesWorkerSpec spec;
  spec.set_namespace_("ml-tuning");
  spec.set_image("registry.example/train:1.4");
  (*spec.mutable_resources())["cpu"] = "4";
  (*spec.mutable_resources())["nvidia.com/gpu"] = "1";
  spec.set_report_endpoint("vernier.ml-tuning.svc:7007");
  return spec;
}

TrialJob Trial() {
  TrialJob trial;
  trial.study = "digits";
  trial.trial_id = 42;
  trial.owner = "srv-a";
  trial.command = {"python", "train.py", "--lr=0.01"};
  trial.env = {{"VERNIER_TRIAL_ID", "42"}, {"VERNIER_PARAM_lr", "0.01"}};
  trial.parameters["lr"].set_number_value(0.01);
  trial.parameters["opt"].set_string_value("adam");
  trial.max_runtime = absl::Minutes(10);
  return trial;
}

google::protobuf::Struct Template(const std::string& json) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &out).ok());
  return out;
}

TEST(JobBuilderTest, VernierOwnsTheJobsLifecycleAndLabels) {
  absl::StatusOr<nlohmann::json> job = BuildJob(Spec(), Trial());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)["metadata"]["name"], "vernier-digits-42");
  EXPECT_EQ((*job)["metadata"]["namespace"], "ml-tuning");
  const nlohmann::json labels = {{"vernier.dev/study", "digits"},
                                 {"vernier.dev/trial", "42"},
                                 {"vernier.dev/owner", "srv-a"}};
  EXPECT_EQ((*job)["metadata"]["labels"], labels);
  EXPECT_EQ((*job)["spec"]["template"]["metadata"]["labels"], labels);
  EXPECT_EQ((*job)["spec"]["backoffLimit"], 0);
  EXPECT_EQ((*job)["spec"]["activeDeadlineSeconds"], 600);
  EXPECT_EQ((*job)["spec"]["ttlSecondsAfterFinished"], 3600);
  const nlohmann::json& pod = (*job)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"], "Never");
  const nlohmann::json& container = pod["containers"][0];
  EXPECT_EQ(container["image"], "registry.example/train:1.4");
  EXPECT_EQ(container["command"][2], "--lr=0.01");
  EXPECT_EQ(container["resources"]["limits"]["nvidia.com/gpu"], "1");
  EXPECT_EQ(container["resources"]["requests"]["cpu"], "4");
  // The token is never a plain value.
  bool token_from_secret = false;
  for (const nlohmann::json& var : container["env"]) {
    EXPECT_FALSE(var["name"] == "VERNIER_TOKEN" && var.contains("value"));
    if (var["name"] == "VERNIER_TOKEN") {
      token_from_secret =
          var["valueFrom"]["secretKeyRef"]["name"] == "vernier-digits-42-token";
    }
  }
  EXPECT_TRUE(token_from_secret);
}

TEST(JobBuilderTest, TemplateIsMergedWithParamsEverywhere) {
  v1::KubernetesWorkerSpec spec = Spec();
  spec.clear_image();
  *spec.mutable_job_template() = Template(R"({
    "apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": "ignored", "labels": {"team": "opt-${params.opt}"},
                 "annotations": {"lr": "${params.lr}"}},
    "spec": {"backoffLimit": 6, "template": {"spec": {
      "nodeSelector": {"pool": "gpu"},
      "containers": [{"name": "main", "image": "train:${params.opt}",
                      "args": ["--old"],
                      "env": [{"name": "KEEP", "value": "1"},
                              {"name": "VERNIER_TOKEN", "value": "leak"}],
                      "resources": {"limits": {"memory": "8Gi"}}}]}}}})");
  absl::StatusOr<nlohmann::json> job = BuildJob(spec, Trial());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)["metadata"]["name"], "vernier-digits-42");
  EXPECT_EQ((*job)["metadata"]["labels"]["team"], "opt-adam");
  EXPECT_EQ((*job)["metadata"]["annotations"]["lr"], "0.01");
  EXPECT_EQ((*job)["spec"]["backoffLimit"], 0);
  const nlohmann::json& pod = (*job)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["pool"], "gpu");
  const nlohmann::json& container = pod["containers"][0];
  EXPECT_EQ(container["name"], "main");
  EXPECT_EQ(container["image"], "train:adam");
  EXPECT_FALSE(container.contains("args"));
  EXPECT_EQ(container["resources"]["limits"]["memory"], "8Gi");
  EXPECT_EQ(container["resources"]["limits"]["cpu"], "4");
  EXPECT_EQ(container["env"][0]["name"], "KEEP");
  for (const nlohmann::json& var : container["env"]) {
    EXPECT_NE(var.value("value", ""), "leak");
  }
}

TEST(JobBuilderTest, PodTemplateIsWrappedInAJob) {
  v1::KubernetesWorkerSpec spec = Spec();
  *spec.mutable_job_template() = Template(
      R"({"metadata": {"annotations": {"a": "b"}},
          "spec": {"containers": [{"name": "x"}], "priorityClassName": "low"}})");
  absl::StatusOr<nlohmann::json> job = BuildJob(spec, Trial());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)["spec"]["template"]["metadata"]["annotations"]["a"], "b");
  EXPECT_EQ((*job)["spec"]["template"]["spec"]["priorityClassName"], "low");
  EXPECT_EQ((*job)["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.example/train:1.4");
}

TEST(JobBuilderTest, UnknownParamInTemplateIsAnError) {
  v1::KubernetesWorkerSpec spec = Spec();
  *spec.mutable_job_template() =
      Template(R"({"spec": {"containers": [{"name": "${params.depth}"}]}})");
  absl::StatusOr<nlohmann::json> job = BuildJob(spec, Trial());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(), HasSubstr("depth"));
}

TEST(JobBuilderTest, SecretIsOwnedByTheJob) {
  const nlohmann::json secret =
      BuildTokenSecret(Spec(), Trial(), "vernier-digits-42", "uid-1", "tok");
  EXPECT_EQ(secret["metadata"]["name"], "vernier-digits-42-token");
  EXPECT_EQ(secret["data"]["token"], "dG9r");
  EXPECT_EQ(secret["metadata"]["ownerReferences"][0]["uid"], "uid-1");
  EXPECT_EQ(secret["metadata"]["labels"]["vernier.dev/trial"], "42");
}

TEST(JobBuilderTest, NamesAreValidLabels) {
  const std::string name = JobName(std::string(63, 'a'), 1234567890123);
  EXPECT_LE(name.size(), 63u);
  EXPECT_TRUE(name.ends_with("-1234567890123"));
  EXPECT_EQ(OwnerLabelValue("host:7007/x"), "host-7007-x");
}

}  // namespace
}  // namespace vernier::kubernetes
