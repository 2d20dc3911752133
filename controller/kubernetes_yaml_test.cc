// worker.kubernetes in study YAML: what it fills, and where its errors point.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "controller/spec_test_util.h"
#include "controller/study_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr absl::string_view kBaseDir = kTestBaseDir;

// Line 9 is `worker:`; line 12 is the kubernetes block's first key.
constexpr absl::string_view kBase = R"yaml(name: k8s
objective: {metric: loss, goal: minimize}
parameters:
  - {name: lr, type: double, min: 0.001, max: 0.1, scale: log}
  - {name: depth, type: int, min: 2, max: 8}
trials:
  max: 12
  parallel: 4
worker:
  kind: kubernetes
  kubernetes:
    namespace: ml-tuning
    context: prod-gpu
    image: registry.example/train:1.4
    command: ["python", "train.py", "--lr=${params.lr}"]
    resources: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}
    report_endpoint: vernier.ml-tuning.svc:7007
)yaml";

TEST(KubernetesYamlTest, FillsEveryField) {
  const std::string yaml = absl::StrCat(kBase, R"yaml(    pending_timeout: 5m
    ttl_after_finished: 1h
    job_template:
      apiVersion: batch/v1
      kind: Job
      metadata: {annotations: {team: "depth-${params.depth}"}}
      spec:
        template:
          spec:
            containers: [{name: trainer}]
            nodeSelector: {pool: gpu}
  env: {OMP_NUM_THREADS: 1}
)yaml");
  const LoadedStudy loaded = LoadStudyYaml(yaml, kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  const v1::WorkerSpec& worker = loaded.spec.worker();
  EXPECT_EQ(worker.kind(), v1::WorkerSpec::KUBERNETES);
  EXPECT_EQ(worker.metrics().collector(), v1::MetricsSpec::PUSH);
  EXPECT_EQ(worker.working_dir(), "");
  const v1::KubernetesWorkerSpec& k8s = worker.kubernetes();
  EXPECT_EQ(k8s.namespace_(), "ml-tuning");
  EXPECT_EQ(k8s.context(), "prod-gpu");
  EXPECT_EQ(k8s.image(), "registry.example/train:1.4");
  EXPECT_THAT(k8s.command(),
              ElementsAre("python", "train.py", "--lr=${params.lr}"));
  EXPECT_THAT(k8s.resources(),
              UnorderedElementsAre(Pair("cpu", "4"), Pair("memory", "16Gi"),
                                   Pair("nvidia.com/gpu", "1")));
  EXPECT_EQ(k8s.report_endpoint(), "vernier.ml-tuning.svc:7007");
  EXPECT_EQ(k8s.pending_timeout().seconds(), 300);
  EXPECT_EQ(k8s.ttl_after_finished().seconds(), 3600);
  EXPECT_EQ(k8s.job_template().fields().at("kind").string_value(), "Job");
}

TEST(KubernetesYamlTest, KubernetesBlockOnALocalWorkerIsRefused) {
  const LoadedStudy loaded = LoadStudyYaml(R"yaml(name: k8s
objective: {metric: loss, goal: minimize}
parameters: [{name: lr, type: double, min: 0.001, max: 0.1}]
trials: {max: 1}
worker:
  command: [python3, train.py]
  kubernetes: {namespace: a, image: b, report_endpoint: "c:1"}
)yaml",
                                           kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_EQ(
      loaded.errors[0].ToString(),
      "7:3: worker.kubernetes: only a worker of kind kubernetes takes it");
}


TEST(KubernetesYamlTest, APricedBudgetedStudyIsValid) {
  const std::string yaml = absl::StrCat(
      kBase, "  pricing: {gpu_hour: 2.48, cpu_hour: 0.05, memory_gb_hour: 0.01}\n",
      "budget: {max_cost: 40}\n");
  const LoadedStudy loaded = LoadStudyYaml(yaml, kBaseDir);
  EXPECT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
}

TEST(KubernetesYamlTest, PricingNeedsRequestsThatNameNoParameter) {
  const std::string yaml = absl::StrCat(kBase, R"yaml(    job_template:
      spec:
        template:
          spec:
            containers:
              - {name: trainer}
              - {name: cache, resources: {requests: {memory: "${params.depth}Gi"}}}
  pricing: {memory_gb_hour: 0.01}
)yaml");
  const LoadedStudy loaded = LoadStudyYaml(yaml, kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_EQ(loaded.errors[0].path, "worker.pricing");
  EXPECT_THAT(loaded.errors[0].message,
              HasSubstr("containers[1].resources.requests.memory: "
                        "'${params.depth}Gi' is not a Kubernetes quantity"));
}

TEST(KubernetesYamlTest, LocalResourceFieldsAreRefused) {
  const std::string yaml =
      absl::StrCat(kBase, "  memory_gb_per_trial: 16\n  cpus_per_trial: 2\n");
  const LoadedStudy loaded = LoadStudyYaml(yaml, kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 2u) << Describe(loaded.errors);
  EXPECT_THAT(Describe(loaded.errors),
              HasSubstr("worker.memory_gb_per_trial: is for local workers"));
}

class MalformedKubernetesTest : public ::testing::TestWithParam<MalformedCase> {};

TEST(MalformedKubernetesBaseTest, BaseIsValid) {
  const LoadedStudy loaded = LoadStudyYaml(kBase, kBaseDir);
  EXPECT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
}

TEST_P(MalformedKubernetesTest, ReportsPathAndPosition) {
  ExpectTheOneError(kBase, GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedKubernetesTest,
    ::testing::Values(
        MalformedCase{"MissingNamespace", "    namespace: ml-tuning\n", "",
                "worker.kubernetes.namespace", 11, 3, "required"},
        MalformedCase{"BadNamespace", "ml-tuning\n", "ML_Tuning\n",
                "worker.kubernetes.namespace", 12, 5,
                "'ML_Tuning' is not a namespace name"},
        MalformedCase{"MissingImage", "    image: registry.example/train:1.4\n", "",
                "worker.kubernetes.image", 11, 3, "required"},
        MalformedCase{"MisspelledKey", "    context:", "    contxt:",
                "worker.kubernetes.contxt", 13, 5, "context"},
        MalformedCase{"UnknownParamInCommand", "${params.lr}", "${params.rate}",
                "worker.kubernetes.command[2]", 15, 37,
                "${params.rate} names no parameter (parameters: lr, depth)"},
        MalformedCase{"BadQuantity", "memory: 16Gi", "memory: 16 GB",
                "worker.kubernetes.resources.memory", 16, 27,
                "'16 GB' is not a Kubernetes quantity"},
        MalformedCase{"BadResourceName", "nvidia.com/gpu", "nvidia.com/",
                "worker.kubernetes.resources.nvidia.com/", 16, 41,
                "not a resource name"},
        MalformedCase{"ResourceIsAList", "cpu: \"4\"", "cpu: [4]",
                "worker.kubernetes.resources.cpu", 16, 17,
                "must be a quantity"},
        MalformedCase{"MissingEndpoint",
                "    report_endpoint: vernier.ml-tuning.svc:7007\n", "",
                "worker.kubernetes.report_endpoint", 11, 3, "required"},
        MalformedCase{"EndpointWithoutPort", "svc:7007", "svc",
                "worker.kubernetes.report_endpoint", 17, 5,
                "must be HOST:PORT"},
        MalformedCase{"ZeroPendingTimeout", "    report_endpoint:",
                "    pending_timeout: 0s\n    report_endpoint:",
                "worker.kubernetes.pending_timeout", 17, 5,
                "must be greater than zero"},
        MalformedCase{"TopLevelCommand", "  kind: kubernetes\n",
                "  kind: kubernetes\n  command: [python]\n", "worker.command",
                11, 3, "move the command there"},
        MalformedCase{"StdoutCollector", "  kind: kubernetes\n",
                "  kind: kubernetes\n  metrics: {collector: stdout}\n",
                "worker.metrics.collector", 11, 13, "must be push"},
        MalformedCase{"MissingBlock",
                std::string(kBase.substr(kBase.find("  kubernetes:"))), "",
                "worker.kubernetes", 9, 1, "required"},
        MalformedCase{"TemplateOfAnotherKind", "    report_endpoint:",
                "    job_template: {kind: CronJob, spec: {template: {spec: "
                "{containers: [{name: a}]}}}}\n    report_endpoint:",
                "worker.kubernetes.job_template.kind", 17, 20, "must be Job"},
        MalformedCase{"TemplateWithoutContainers", "    report_endpoint:",
                "    job_template: {spec: {template: {spec: {}}}}\n"
                "    report_endpoint:",
                "worker.kubernetes.job_template.spec.template", 17, 27,
                "must hold spec.containers"},
        MalformedCase{"UnknownParamInTemplate", "    report_endpoint:",
                "    job_template: {metadata: {labels: {x: \"${params.b}\"}}, "
                "spec: {containers: [{name: a}]}}\n    report_endpoint:",
                "worker.kubernetes.job_template.metadata.labels.x", 17, 40,
                "${params.b} names no parameter"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) {
      return info.param.label;
    });

}  // namespace
}  // namespace vernier::controller
