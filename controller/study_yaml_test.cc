#include "controller/study_yaml.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "algorithms/algorithm.h"
#include "controller/spec_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::controller {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using v1::ParameterSpec;

constexpr absl::string_view kBaseDir = kTestBaseDir;

// Binaries register the gRPC plug-in adapter as "external"; this test stands
// in a factory that, like the adapter, accepts any settings when built (the
// plug-in judges them on its first suggestion).
const bool kExternalRegistered = [] {
  class Unused final : public algorithms::Algorithm {
    absl::StatusOr<std::vector<algorithms::Assignment>> Suggest(
        const std::vector<v1::Trial>&, int) override {
      return absl::UnimplementedError("a stand-in");
    }
  };
  return algorithms::RegisterAlgorithm(
             "external",
             [](const algorithms::AlgorithmContext&)
                 -> absl::StatusOr<std::unique_ptr<algorithms::Algorithm>> {
               return std::make_unique<Unused>();
             })
      .ok();
}();

TEST(LoadStudyYamlTest, FullExampleFillsEveryField) {
  const LoadedStudy loaded = LoadStudyYaml(R"yaml(
name: digits-svm
description: tune an RBF SVM
objective:
  metric: accuracy
  goal: maximize
  target: 0.99
  additional_metrics: [fit_seconds, val.loss]
algorithm:
  name: random
  seed: 18446744073709551615
  settings: {}
parameters:
  - {name: C, type: double, min: 0.001, max: 1000, scale: log}
  - {name: depth, type: int, min: 2, max: 12, grid_points: 4}
  - {name: batch, type: discrete, values: [32, 64, 128]}
  - {name: kernel, type: categorical, values: [rbf, poly, 3]}
trials:
  max: 40
  parallel: 2
  max_failed: 5
  max_runtime: 1h30m
  retries: 1
  stop_grace: 1.5s
worker:
  kind: local
  command: ["/usr/bin/python3", "train.py", "--C=${params.C}"]
  working_dir: runs/../data/
  env: {OMP_NUM_THREADS: 1, KERNEL: "${params.kernel}", EMPTY: }
  metrics:
    collector: push
)yaml",
                                           kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  const v1::StudySpec& spec = loaded.spec;
  EXPECT_EQ(spec.name(), "digits-svm");
  EXPECT_EQ(spec.description(), "tune an RBF SVM");
  EXPECT_EQ(spec.objective().metric(), "accuracy");
  EXPECT_EQ(spec.objective().goal(), v1::ObjectiveSpec::MAXIMIZE);
  ASSERT_TRUE(spec.objective().has_target());
  EXPECT_DOUBLE_EQ(spec.objective().target(), 0.99);
  EXPECT_THAT(spec.objective().additional_metrics(),
              ElementsAre("fit_seconds", "val.loss"));
  EXPECT_EQ(spec.algorithm().name(), "random");
  ASSERT_TRUE(spec.algorithm().has_seed());
  EXPECT_EQ(spec.algorithm().seed(), 18446744073709551615ULL);
  EXPECT_EQ(spec.algorithm().settings().fields_size(), 0);

  ASSERT_EQ(spec.parameters_size(), 4);
  const ParameterSpec& c = spec.parameters(0);
  EXPECT_EQ(c.name(), "C");
  EXPECT_EQ(c.type(), ParameterSpec::DOUBLE);
  EXPECT_DOUBLE_EQ(c.min(), 0.001);
  EXPECT_DOUBLE_EQ(c.max(), 1000);
  EXPECT_EQ(c.scale(), ParameterSpec::LOG);
  EXPECT_FALSE(c.has_grid_points());
  const ParameterSpec& depth = spec.parameters(1);
  EXPECT_EQ(depth.type(), ParameterSpec::INT);
  EXPECT_EQ(depth.min(), 2);
  EXPECT_EQ(depth.max(), 12);
  EXPECT_EQ(depth.grid_points(), 4);
  const ParameterSpec& batch = spec.parameters(2);
  EXPECT_EQ(batch.type(), ParameterSpec::DISCRETE);
  EXPECT_THAT(batch.values(), ElementsAre(32, 64, 128));
  const ParameterSpec& kernel = spec.parameters(3);
  EXPECT_EQ(kernel.type(), ParameterSpec::CATEGORICAL);
  EXPECT_THAT(kernel.categories(), ElementsAre("rbf", "poly", "3"));
  EXPECT_TRUE(kernel.values().empty());

  const v1::TrialsSpec& trials = spec.trials();
  EXPECT_EQ(trials.max(), 40);
  EXPECT_EQ(trials.parallel(), 2);
  ASSERT_TRUE(trials.has_max_failed());
  EXPECT_EQ(trials.max_failed(), 5);
  EXPECT_EQ(trials.max_runtime().seconds(), 5400);
  EXPECT_EQ(trials.max_runtime().nanos(), 0);
  EXPECT_EQ(trials.retries(), 1);
  EXPECT_EQ(trials.stop_grace().seconds(), 1);
  EXPECT_EQ(trials.stop_grace().nanos(), 500'000'000);

  const v1::WorkerSpec& worker = spec.worker();
  EXPECT_EQ(worker.kind(), v1::WorkerSpec::LOCAL);
  EXPECT_THAT(worker.command(),
              ElementsAre("/usr/bin/python3", "train.py", "--C=${params.C}"));
  EXPECT_EQ(worker.working_dir(), "/home/ada/studies/data");
  EXPECT_EQ(worker.env_size(), 3);
  EXPECT_EQ(worker.env().at("OMP_NUM_THREADS"), "1");
  EXPECT_EQ(worker.env().at("KERNEL"), "${params.kernel}");
  EXPECT_EQ(worker.env().at("EMPTY"), "");
  EXPECT_EQ(worker.metrics().collector(), v1::MetricsSpec::PUSH);
}

constexpr absl::string_view kMinimal = R"yaml(name: minimal
objective: {metric: loss, goal: minimize}
parameters:
  - {name: lr, type: double, min: 0.0001, max: 0.1}
trials: {max: 3}
worker: {command: [./train, "${params.lr}"]}
)yaml";

TEST(LoadStudyYamlTest, DefaultsFillWhatIsLeftOut) {
  const LoadedStudy loaded = LoadStudyYaml(kMinimal, kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  const v1::StudySpec& spec = loaded.spec;
  EXPECT_EQ(spec.algorithm().name(), "random");
  EXPECT_FALSE(spec.algorithm().has_seed());
  EXPECT_EQ(spec.trials().parallel(), 1);
  EXPECT_EQ(spec.trials().retries(), 0);
  EXPECT_FALSE(spec.trials().has_max_failed());
  EXPECT_FALSE(spec.trials().has_max_runtime());
  EXPECT_FALSE(spec.trials().has_stop_grace());
  EXPECT_FALSE(spec.objective().has_target());
  EXPECT_EQ(spec.parameters(0).scale(), ParameterSpec::SCALE_UNSPECIFIED);
  EXPECT_EQ(spec.worker().kind(), v1::WorkerSpec::LOCAL);
  EXPECT_EQ(spec.worker().metrics().collector(), v1::MetricsSpec::STDOUT);
  EXPECT_EQ(spec.worker().working_dir(), kBaseDir);
}

TEST(LoadStudyYamlTest, ExternalAlgorithmKeepsItsEndpointAndSettings) {
  ASSERT_TRUE(kExternalRegistered);
  const LoadedStudy loaded = LoadStudyYaml(
      absl::StrReplaceAll(kMinimal, {{"trials:",
                                      "algorithm:\n  name: external\n"
                                      "  endpoint: 127.0.0.1:7010\n"
                                      "  settings: {strata: 4}\ntrials:"}}),
      kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  EXPECT_EQ(loaded.spec.algorithm().name(), "external");
  EXPECT_EQ(loaded.spec.algorithm().endpoint(), "127.0.0.1:7010");
  EXPECT_EQ(
      loaded.spec.algorithm().settings().fields().at("strata").number_value(),
      4);
}

TEST(LoadStudyYamlTest, WorkerOfKindNoneIsTheKindAlone) {
  for (absl::string_view worker :
       {"worker: {kind: none}", "worker: {kind: none, command: []}"}) {
    const LoadedStudy loaded = LoadStudyYaml(
        absl::StrReplaceAll(
            kMinimal,
            {{"worker: {command: [./train, \"${params.lr}\"]}", worker}}),
        kBaseDir);
    ASSERT_TRUE(loaded.errors.empty()) << worker << Describe(loaded.errors);
    const v1::WorkerSpec& spec = loaded.spec.worker();
    EXPECT_EQ(spec.kind(), v1::WorkerSpec::NONE);
    EXPECT_TRUE(spec.command().empty());
    EXPECT_TRUE(spec.working_dir().empty());
    EXPECT_FALSE(spec.has_metrics());
  }
}

TEST(LoadStudyYamlTest, AbsoluteWorkingDirIsKeptNormalised) {
  const LoadedStudy loaded =
      LoadStudyYaml(absl::StrReplaceAll(kMinimal, {{"worker: {",
                                                    "worker: {working_dir: "
                                                    "/srv//jobs/./a/, "}}),
                    kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  EXPECT_EQ(loaded.spec.worker().working_dir(), "/srv/jobs/a");
}

TEST(LoadStudyYamlTest, GridSearchWithGridPointsIsValid) {
  const LoadedStudy loaded = LoadStudyYaml(
      absl::StrReplaceAll(kMinimal, {{"max: 0.1}", "max: 0.1, grid_points: 5}"},
                                     {"trials:",
                                      "algorithm: {name: grid, "
                                      "seed: 3}\ntrials:"}}),
      kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  EXPECT_EQ(loaded.spec.algorithm().name(), "grid");
  EXPECT_EQ(loaded.spec.parameters(0).grid_points(), 5);
}

struct DurationCase {
  std::string text;
  int64_t seconds;
  int32_t nanos;
};

class DurationTest : public ::testing::TestWithParam<DurationCase> {};

TEST_P(DurationTest, MapsToProtoDuration) {
  const LoadedStudy loaded = LoadStudyYaml(
      absl::StrReplaceAll(
          kMinimal, {{"trials: {max: 3}", "trials: {max: 3, max_runtime: " +
                                              GetParam().text + "}"}}),
      kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  EXPECT_EQ(loaded.spec.trials().max_runtime().seconds(), GetParam().seconds);
  EXPECT_EQ(loaded.spec.trials().max_runtime().nanos(), GetParam().nanos);
}

INSTANTIATE_TEST_SUITE_P(
    Units, DurationTest,
    ::testing::Values(DurationCase{"90s", 90, 0}, DurationCase{"10m", 600, 0},
                      DurationCase{"2h", 7200, 0},
                      DurationCase{"1h30m", 5400, 0},
                      DurationCase{"1.5h", 5400, 0},
                      DurationCase{"1d", 86400, 0},
                      DurationCase{"250ms", 0, 250'000'000},
                      DurationCase{"1m30s500ms", 90, 500'000'000}));

// The base study of the malformed cases: valid as it stands. Each case edits
// it and names the one error that must follow, with its position.
constexpr absl::string_view kBase = R"yaml(name: digits-svm
objective:
  metric: accuracy
  goal: maximize
parameters:
  - {name: C, type: double, min: 0.001, max: 1000, scale: log}
  - {name: depth, type: int, min: 2, max: 12}
trials:
  max: 10
worker:
  command: [python3, train.py, "--C=${params.C}"]
)yaml";

class MalformedStudyTest : public ::testing::TestWithParam<MalformedCase> {};

TEST(MalformedStudyBaseTest, BaseIsValid) {
  const LoadedStudy loaded = LoadStudyYaml(kBase, kBaseDir);
  EXPECT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
}

TEST(LoadStudyYamlTest, EarlyStoppingAndCountStoppedAreRead) {
  const std::string yaml =
      absl::StrReplaceAll(kBase,
                          {{"  goal: maximize\n",
                            "  goal: maximize\n  count_stopped: true\n"}}) +
      "early_stopping:\n  name: asha\n  settings: {max_step: 81}\n";
  const LoadedStudy loaded = LoadStudyYaml(yaml, kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  EXPECT_TRUE(loaded.spec.objective().count_stopped());
  EXPECT_EQ(loaded.spec.early_stopping().name(), "asha");
  EXPECT_EQ(loaded.spec.early_stopping()
                .settings()
                .fields()
                .at("max_step")
                .number_value(),
            81);
  EXPECT_FALSE(LoadStudyYaml(kBase, kBaseDir).spec.has_early_stopping());
}

TEST_P(MalformedStudyTest, ReportsPathAndPosition) {
  ExpectTheOneError(kBase, GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Table, MalformedStudyTest,
    ::testing::Values(
        MalformedCase{"BadStudyName", "name: digits-svm", "name: Digits_SVM",
                      "name", 1, 1, "not a study name"},
        MalformedCase{"LongStudyName", "name: digits-svm",
                      "name: " + std::string(64, 'a'), "name", 1, 1,
                      "at most 63 characters (got 64)"},
        MalformedCase{"MissingStudyName", "name: digits-svm\n", "", "name", 1,
                      1, "required"},
        MalformedCase{"UnknownTopLevelKey", "name: digits-svm\n",
                      "name: digits-svm\nowner: ada\n", "owner", 2, 1,
                      "unknown key (known keys: name, description, objective"},
        MalformedCase{"MisspeltKey", "  max: 10\n", "  max: 10\n  paralel: 2\n",
                      "trials.paralel", 10, 3, "did you mean 'parallel'?"},
        MalformedCase{"DuplicatedKey", "  goal: maximize\n",
                      "  goal: maximize\n  goal: minimize\n", "objective.goal",
                      5, 3, "duplicated key (first at line 4)"},
        MalformedCase{"UnknownGoal", "goal: maximize", "goal: maximise",
                      "objective.goal", 4, 3,
                      "must be one of maximize, minimize (not 'maximise')"},
        MalformedCase{"MissingMetric", "  metric: accuracy\n", "",
                      "objective.metric", 2, 1, "required"},
        MalformedCase{"StepIsNotAMetric", "metric: accuracy", "metric: step",
                      "objective.metric", 3, 3, "reserved"},
        MalformedCase{"BadMetricName", "metric: accuracy", "metric: 3acc",
                      "objective.metric", 3, 3, "not a metric name"},
        MalformedCase{"TargetIsNotANumber", "  goal: maximize\n",
                      "  goal: maximize\n  target: high\n", "objective.target",
                      5, 3, "must be a number, not 'high'"},
        MalformedCase{"AdditionalMetricIsObjective", "  goal: maximize\n",
                      "  goal: maximize\n  additional_metrics: [loss, "
                      "accuracy]\n",
                      "objective.additional_metrics[1]", 5, 30,
                      "is the objective metric"},
        MalformedCase{"ObjectiveIsAList",
                      "objective:\n  metric: accuracy\n  "
                      "goal: maximize\n",
                      "objective: [accuracy, maximize]\n", "objective", 2, 1,
                      "must be a mapping (key: value lines), not a list"},
        MalformedCase{"MinNotBelowMax", "min: 2, max: 12", "min: 5, max: 3",
                      "parameters[1].max", 7, 38,
                      "must be greater than min (3 <= 5)"},
        MalformedCase{"LogScaleFromZero", "min: 0.001", "min: 0",
                      "parameters[0].min", 6, 29,
                      "must be greater than 0 on a log scale (0)"},
        MalformedCase{"IntWithFractionalBound", "min: 2,", "min: 2.5,",
                      "parameters[1].min", 7, 30,
                      "must be an integer for an int parameter (2.5)"},
        MalformedCase{"BoundIsAString", "max: 12", "max: twelve",
                      "parameters[1].max", 7, 38,
                      "must be a number, not 'twelve'"},
        MalformedCase{"BoundIsQuoted", "max: 12", "max: \"12\"",
                      "parameters[1].max", 7, 38,
                      "must be a number, not a quoted string '12'"},
        MalformedCase{"UnknownParameterType", "type: int", "type: integer",
                      "parameters[1].type", 7, 19,
                      "must be one of double, int, discrete, categorical"},
        MalformedCase{"MissingParameterType", "type: int, ", "",
                      "parameters[1].type", 7, 5, "required"},
        MalformedCase{"DuplicatedParameterName", "name: depth", "name: C",
                      "parameters[1].name", 7, 6,
                      "'C' is the name of an earlier parameter"},
        MalformedCase{"BadParameterName", "name: depth", "name: max-depth",
                      "parameters[1].name", 7, 6, "not a parameter name"},
        MalformedCase{"ParameterIsNotAMapping",
                      "  - {name: depth, type: int, min: 2, max: 12}",
                      "  - depth", "parameters[1]", 7, 5, "must be a mapping"},
        MalformedCase{
            "EmptyDiscreteValues",
            "trials:", "  - {name: batch, type: discrete, values: []}\ntrials:",
            "parameters[2].values", 8, 35, "must list at least one value"},
        MalformedCase{"DecreasingDiscreteValues", "trials:",
                      "  - {name: batch, type: discrete, values: [64, 32]}\n"
                      "trials:",
                      "parameters[2].values[1]", 8, 48,
                      "must be greater than the previous value (32 <= 64)"},
        MalformedCase{"DuplicatedCategory", "trials:",
                      "  - {name: kernel, type: categorical, values: [rbf, "
                      "poly, rbf]}\ntrials:",
                      "parameters[2].values[2]", 8, 59,
                      "'rbf' is listed twice"},
        MalformedCase{"CategoricalWithMin", "trials:",
                      "  - {name: kernel, type: categorical, values: [rbf], "
                      "min: 1}\ntrials:",
                      "parameters[2].min", 8, 54,
                      "min does not apply to categorical parameters"},
        MalformedCase{"GridNeedsGridPoints",
                      "trials:", "algorithm:\n  name: grid\ntrials:",
                      "parameters[0].grid_points", 6, 5,
                      "required by grid search"},
        MalformedCase{
            "TooFewGridPoints", "scale: log}", "scale: log, grid_points: 1}",
            "parameters[0].grid_points", 6, 64, "must be at least 2 (1)"},
        MalformedCase{
            "UnknownAlgorithm",
            "trials:", "algorithm: {name: bayes}\ntrials:", "algorithm.name", 8,
            13, "unknown algorithm 'bayes' (known: external, gp, grid, random)"},
        MalformedCase{"ExternalWithoutEndpoint",
                      "trials:", "algorithm:\n  name: external\ntrials:",
                      "algorithm.endpoint", 8, 1,
                      "required by the external algorithm: HOST:PORT"},
        MalformedCase{"EndpointWithoutPort", "trials:",
                      "algorithm:\n  name: external\n  endpoint: localhost\n"
                      "trials:",
                      "algorithm.endpoint", 10, 3,
                      "must be HOST:PORT with a port from 1 to 65535, e.g. "
                      "127.0.0.1:7010 (not 'localhost')"},
        MalformedCase{"EndpointPortOutOfRange", "trials:",
                      "algorithm: {name: external, endpoint: "
                      "'127.0.0.1:70100'}\ntrials:",
                      "algorithm.endpoint", 8, 29, "must be HOST:PORT"},
        MalformedCase{"EndpointForAnotherAlgorithm", "trials:",
                      "algorithm:\n  name: random\n"
                      "  endpoint: 127.0.0.1:7010\ntrials:",
                      "algorithm.endpoint", 10, 3,
                      "only the external algorithm takes an endpoint (this "
                      "study's algorithm is 'random')"},
        MalformedCase{"UnknownAlgorithmSetting",
                      "trials:", "algorithm:\n  settings: {foo: 1}\ntrials:",
                      "algorithm.settings.foo", 9, 14,
                      "unknown setting for algorithm 'random'"},
        MalformedCase{"NegativeSeed", "trials:",
                      "algorithm: {seed: -1}\ntrials:", "algorithm.seed", 8, 13,
                      "must be a non-negative integer"},
        MalformedCase{"ZeroParallel", "  max: 10\n",
                      "  max: 10\n  parallel: 0\n", "trials.parallel", 10, 3,
                      "must be at least 1 (0)"},
        MalformedCase{"NegativeRetries", "  max: 10\n",
                      "  max: 10\n  retries: -2\n", "trials.retries", 10, 3,
                      "must be at least 0 (-2)"},
        MalformedCase{"MissingMaxTrials", "  max: 10\n", "  parallel: 2\n",
                      "trials.max", 8, 1, "required"},
        MalformedCase{"MaxTrialsIsAString", "  max: 10\n", "  max: ten\n",
                      "trials.max", 9, 3, "must be an integer, not 'ten'"},
        MalformedCase{"TrialsIsAList", "trials:\n  max: 10\n", "trials: [10]\n",
                      "trials", 8, 1, "must be a mapping"},
        MalformedCase{"DurationWithoutUnit", "  max: 10\n",
                      "  max: 10\n  max_runtime: 600\n", "trials.max_runtime",
                      10, 3, "'600' has no unit: write e.g. 600s or 600m"},
        MalformedCase{"MalformedDuration", "  max: 10\n",
                      "  max: 10\n  stop_grace: 10 minutes\n",
                      "trials.stop_grace", 10, 3, "is not a duration"},
        MalformedCase{"ZeroDuration", "  max: 10\n",
                      "  max: 10\n  stop_grace: 0s\n", "trials.stop_grace", 10,
                      3, "must be greater than zero"},
        MalformedCase{"MissingCommand",
                      "  command: [python3, train.py, \"--C=${params.C}\"]",
                      "  working_dir: .", "worker.command", 10, 1, "required"},
        MalformedCase{"CommandIsAString",
                      "  command: [python3, train.py, \"--C=${params.C}\"]",
                      "  command: python3 train.py", "worker.command", 11, 3,
                      "must be a list"},
        MalformedCase{"CommandItemIsAMapping", "train.py,", "{script: x},",
                      "worker.command[1]", 11, 22,
                      "must be a string, not a mapping"},
        MalformedCase{"UnknownParamReference", "${params.C}", "${params.gamma}",
                      "worker.command[2]", 11, 32,
                      "${params.gamma} names no parameter (parameters: C, "
                      "depth)"},
        MalformedCase{
            "EnvUnknownParamReference", "train.py, \"--C=${params.C}\"]\n",
            "train.py]\n  env: {OMP: \"${params.lr}\"}\n", "worker.env.OMP", 12,
            9, "${params.lr} names no parameter"},
        MalformedCase{"EnvBadName", "train.py, \"--C=${params.C}\"]\n",
                      "train.py]\n  env: {1X: a}\n", "worker.env.1X", 12, 9,
                      "not an environment variable name"},
        MalformedCase{"EnvValueIsAList", "train.py, \"--C=${params.C}\"]\n",
                      "train.py]\n  env: {A: [1]}\n", "worker.env.A", 12, 9,
                      "must be a string or number, not a list"},
        MalformedCase{"UnknownCollector", "train.py, \"--C=${params.C}\"]\n",
                      "train.py]\n  metrics: {collector: pull}\n",
                      "worker.metrics.collector", 12, 13,
                      "must be one of stdout, push (not 'pull')"},
        MalformedCase{"UnknownWorkerKind", "train.py, \"--C=${params.C}\"]\n",
                      "train.py]\n  kind: slurm\n", "worker.kind", 12, 3,
                      "must be one of local, none, kubernetes (not 'slurm')"},
        MalformedCase{"NoneWorkerWithCommand", "worker:\n",
                      "worker:\n  kind: none\n", "worker.command", 12, 3,
                      "does not apply to a worker of kind none"},
        MalformedCase{"NoneWorkerWithWorkingDir",
                      "  command: [python3, train.py, \"--C=${params.C}\"]\n",
                      "  kind: none\n  working_dir: runs\n",
                      "worker.working_dir", 12, 3,
                      "does not apply to a worker of kind none, which runs "
                      "no process"},
        MalformedCase{"NoneWorkerWithEnv",
                      "  command: [python3, train.py, \"--C=${params.C}\"]\n",
                      "  kind: none\n  env: {A: b}\n", "worker.env", 12, 3,
                      "does not apply to a worker of kind none"},
        MalformedCase{"NoneWorkerWithMetrics",
                      "  command: [python3, train.py, \"--C=${params.C}\"]\n",
                      "  kind: none\n  metrics: {}\n", "worker.metrics", 12, 3,
                      "does not apply to a worker of kind none"},
        MalformedCase{"MissingWorker",
                      "worker:\n  command: [python3, train.py, "
                      "\"--C=${params.C}\"]\n",
                      "", "worker.command", 1, 1, "required"},
        MalformedCase{"AshaReductionFactorBelowTwo",
                      "  command: [python3, train.py, \"--C=${params.C}\"]\n",
                      "  command: [python3, train.py, "
                      "\"--C=${params.C}\"]\nearly_stopping:\n  name: asha\n"
                      "  settings: {max_step: 9, reduction_factor: 1}\n",
                      "early_stopping.settings.reduction_factor", 14, 27,
                      "must be at least 2 (not 1)"},
        MalformedCase{"AshaRungsDoNotFitMaxStep",
                      "  command: [python3, train.py, \"--C=${params.C}\"]\n",
                      "  command: [python3, train.py, "
                      "\"--C=${params.C}\"]\nearly_stopping:\n  name: asha\n"
                      "  settings: {min_step: 5, max_step: 10}\n",
                      "early_stopping.settings.max_step", 14, 27,
                      "the rungs do not fit"},
        MalformedCase{"MedianUnknownSetting",
                      "  command: [python3, train.py, \"--C=${params.C}\"]\n",
                      "  command: [python3, train.py, "
                      "\"--C=${params.C}\"]\nearly_stopping:\n  name: median\n"
                      "  settings: {min_steps: 3}\n",
                      "early_stopping.settings.min_steps", 14, 14,
                      "unknown setting for early-stopping rule 'median'"},
        MalformedCase{
            "UnknownEarlyStoppingRule",
            "  command: [python3, train.py, \"--C=${params.C}\"]\n",
            "  command: [python3, train.py, "
            "\"--C=${params.C}\"]\nearly_stopping: {name: hyperband}\n",
            "early_stopping.name", 12, 18,
            "unknown early-stopping rule 'hyperband' (known: asha, "
            "median)"},
        MalformedCase{"EarlyStoppingWithoutName",
                      "  command: [python3, train.py, \"--C=${params.C}\"]\n",
                      "  command: [python3, train.py, "
                      "\"--C=${params.C}\"]\nearly_stopping: {settings: {}}\n",
                      "early_stopping.name", 12, 1,
                      "required: one of asha, median"},
        MalformedCase{
            "EarlyStoppingUnknownKey",
            "  command: [python3, train.py, \"--C=${params.C}\"]\n",
            "  command: [python3, train.py, "
            "\"--C=${params.C}\"]\nearly_stopping: {name: median, grace: 1s}\n",
            "early_stopping.grace", 12, 32, "unknown key"},
        MalformedCase{"EarlyStoppingWithoutSteps",
                      "worker:\n  command: [python3, train.py, "
                      "\"--C=${params.C}\"]\n",
                      "worker: {kind: none}\nearly_stopping: {name: median}\n",
                      "early_stopping", 11, 1,
                      "needs intermediate measurements (steps)"},
        MalformedCase{"CountStoppedNotABool", "  goal: maximize\n",
                      "  goal: maximize\n  count_stopped: maybe\n",
                      "objective.count_stopped", 5, 3,
                      "must be one of true, false"},
        MalformedCase{"StudyIsAList", std::string(kBase), "- name: x\n", "", 1,
                      1, "must be a mapping"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) {
      return info.param.label;
    });

TEST(LoadStudyYamlTest, ListsEveryProblemInOrder) {
  const LoadedStudy loaded = LoadStudyYaml(R"yaml(name: Bad Name
objective:
  metric: accuracy
  goal: up
parameters:
  - {name: C, type: double, min: 5, max: 3}
  - {name: C, type: int, min: 1, max: 4}
trials:
  max: 0
  parallel: two
worker:
  command: [python3, "${params.gamma}"]
  colour: blue
)yaml",
                                           kBaseDir);
  std::vector<std::string> got;
  for (const SpecError& error : loaded.errors) got.push_back(error.ToString());
  EXPECT_THAT(
      got,
      ElementsAre(
          HasSubstr("1:1: name: 'Bad Name' is not a study name"),
          "4:3: objective.goal: must be one of maximize, minimize (not 'up')",
          "6:37: parameters[0].max: must be greater than min (3 <= 5)",
          "7:6: parameters[1].name: 'C' is the name of an earlier parameter",
          "9:3: trials.max: must be at least 1 (0)",
          "10:3: trials.parallel: must be an integer, not 'two'",
          "12:22: worker.command[1]: ${params.gamma} names no parameter "
          "(parameters: C)",
          HasSubstr("13:3: worker.colour: unknown key (known keys: kind, ")));
}

TEST(LoadStudyYamlTest, SyntaxErrorHasAPosition) {
  const LoadedStudy loaded = LoadStudyYaml(
      "name: x\nparameters: [{name: a, type: int, min: 1, max: 2}\ntrials: "
      "{}\n",
      kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_THAT(loaded.errors[0].message, HasSubstr("YAML syntax error"));
  EXPECT_EQ(loaded.errors[0].line, 3);
  EXPECT_GT(loaded.errors[0].column, 0);
}

TEST(LoadStudyYamlTest, TextThatIsNotUtf8IsOneErrorAtItsFirstBadByte) {
  std::string yaml(kMinimal);
  yaml.insert(yaml.find("minimize"), "caf\xe9 ");
  const LoadedStudy loaded = LoadStudyYaml(yaml, kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_EQ(loaded.errors[0].message,
            "not UTF-8 (byte 0xe9): save the study as UTF-8");
  EXPECT_EQ(loaded.errors[0].line, 2);
  EXPECT_EQ(loaded.errors[0].column, 36);
}

TEST(LoadStudyYamlTest, TextOverTheSizeLimitIsNotParsed) {
  std::string yaml(kMinimal);
  yaml.append(kMaxStudyYamlBytes, '#');
  const LoadedStudy loaded = LoadStudyYaml(yaml, kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_THAT(loaded.errors[0].message,
              HasSubstr("bytes; at most 1048576 are read"));
}

TEST(LoadStudyYamlTest, NestingPastYamlCppsLimitSaysSo) {
  const std::string yaml = absl::StrCat("name: ", std::string(5000, '['),
                                        std::string(5000, ']'), "\n");
  const LoadedStudy loaded = LoadStudyYaml(yaml, kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_EQ(loaded.errors[0].message,
            "YAML syntax error: nested more than 2000 levels deep");
  EXPECT_EQ(loaded.errors[0].line, 1);
}

TEST(ValidateStudySpecTest, LongMetricNamesAndDescriptionsAreRefused) {
  LoadedStudy loaded = LoadStudyYaml(kMinimal, kBaseDir);
  ASSERT_TRUE(loaded.errors.empty()) << Describe(loaded.errors);
  loaded.spec.mutable_objective()->set_metric(
      std::string(kMaxMetricNameLength + 1, 'm'));
  loaded.spec.set_description(std::string(kMaxDescriptionBytes + 1, 'd'));
  EXPECT_THAT(Describe(ValidateStudySpec(loaded.spec)),
              AllOf(HasSubstr("objective.metric: must be at most 256 "
                              "characters (got 257)"),
                    HasSubstr("description: must be at most 65536 bytes")));
}

TEST(LoadStudyYamlTest, TabIndentationIsASyntaxError) {
  const LoadedStudy loaded =
      LoadStudyYaml("name: x\ntrials:\n\tmax: 3\n", kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_EQ(loaded.errors[0].line, 3);
  EXPECT_THAT(loaded.errors[0].message, HasSubstr("tab"));
}

TEST(LoadStudyYamlTest, EmptyTextIsOneError) {
  const LoadedStudy loaded = LoadStudyYaml("# nothing here\n", kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].ToString(), "1:1: the study is empty");
}

TEST(LoadStudyYamlTest, SecondDocumentIsRefused) {
  const LoadedStudy loaded =
      LoadStudyYaml(absl::StrCat(kMinimal, "---\nname: other\n"), kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_EQ(loaded.errors[0].line, 8);
  EXPECT_THAT(loaded.errors[0].message, HasSubstr("only one YAML document"));
}

// Found by fuzz_study_yaml: yaml-cpp's LoadAll never returned on these (it
// produced empty documents forever, in memory).
TEST(LoadStudyYamlTest, StrayPunctuationEnds) {
  for (const char* text : {",", "]", "}", "name: x\n,\n"}) {
    const LoadedStudy loaded = LoadStudyYaml(text, kBaseDir);
    EXPECT_FALSE(loaded.errors.empty()) << text;
  }
}

TEST(LoadStudyYamlTest, SettingsBecomeAStruct) {
  // No registered algorithm takes settings yet, so this study is refused;
  // the spec still carries the settings as the user wrote them.
  const LoadedStudy loaded = LoadStudyYaml(
      absl::StrReplaceAll(kMinimal,
                          {{"trials:",
                            "algorithm:\n  settings:\n    n: 3\n    on: true\n"
                            "    tag: '7'\n    list: [a, 1.5]\ntrials:"}}),
      kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_EQ(loaded.errors[0].path, "algorithm.settings.list");
  EXPECT_EQ(loaded.errors[0].line, 10);
  const auto& fields = loaded.spec.algorithm().settings().fields();
  EXPECT_EQ(fields.at("n").number_value(), 3);
  EXPECT_TRUE(fields.at("on").bool_value());
  EXPECT_EQ(fields.at("tag").string_value(), "7");
  ASSERT_EQ(fields.at("list").list_value().values_size(), 2);
  EXPECT_EQ(fields.at("list").list_value().values(0).string_value(), "a");
  EXPECT_EQ(fields.at("list").list_value().values(1).number_value(), 1.5);
}

v1::StudySpec ValidSpec() {
  v1::StudySpec spec;
  spec.set_name("from-code");
  spec.mutable_objective()->set_metric("loss");
  spec.mutable_objective()->set_goal(v1::ObjectiveSpec::MINIMIZE);
  spec.mutable_algorithm()->set_name("random");
  ParameterSpec* lr = spec.add_parameters();
  lr->set_name("lr");
  lr->set_type(ParameterSpec::DOUBLE);
  lr->set_min(1e-4);
  lr->set_max(0.1);
  ParameterSpec* layers = spec.add_parameters();
  layers->set_name("layers");
  layers->set_type(ParameterSpec::INT);
  layers->set_min(1);
  layers->set_max(4);
  ParameterSpec* width = spec.add_parameters();
  width->set_name("width");
  width->set_type(ParameterSpec::INT);
  width->set_min(8);
  width->set_max(64);
  spec.mutable_trials()->set_max(5);
  spec.mutable_worker()->add_command("./train");
  spec.mutable_worker()->add_command("--lr=${params.lr}");
  return spec;
}

TEST(ValidateStudySpecTest, ValidSpecFromCodeHasNoErrors) {
  EXPECT_TRUE(ValidateStudySpec(ValidSpec()).empty())
      << Describe(ValidateStudySpec(ValidSpec()));
}

TEST(ValidateStudySpecTest, SpecFromCodeGetsTheSamePathsAsYaml) {
  v1::StudySpec spec = ValidSpec();
  spec.mutable_parameters(2)->set_min(5);
  spec.mutable_parameters(2)->set_max(3);
  const std::vector<SpecError> errors = ValidateStudySpec(spec);
  ASSERT_EQ(errors.size(), 1u) << Describe(errors);
  EXPECT_EQ(errors[0].path, "parameters[2].max");
  EXPECT_EQ(errors[0].line, 0);
  EXPECT_EQ(errors[0].ToString(),
            "parameters[2].max: must be greater than min (3 <= 5)");
}

TEST(ValidateStudySpecTest, RulesThatOnlyAProtoCanBreak) {
  v1::StudySpec spec = ValidSpec();
  spec.mutable_algorithm()->clear_name();
  spec.mutable_trials()->set_parallel(-1);
  spec.mutable_trials()->mutable_stop_grace()->set_seconds(-3);
  spec.mutable_worker()->set_working_dir("relative/dir");
  (*spec.mutable_worker()->mutable_env())["VERNIER_TOKEN"] = "x";
  spec.mutable_parameters(0)->add_categories("a");
  std::vector<std::string> paths;
  for (const SpecError& error : ValidateStudySpec(spec)) {
    paths.push_back(error.path);
  }
  EXPECT_THAT(paths,
              ElementsAre("parameters[0].values", "algorithm.name",
                          "trials.parallel", "trials.stop_grace",
                          "worker.working_dir", "worker.env.VERNIER_TOKEN"));
}

TEST(ValidateStudySpecTest, AlgorithmSettingErrorsNameTheSetting) {
  v1::StudySpec spec = ValidSpec();
  (*spec.mutable_algorithm()->mutable_settings()->mutable_fields())["foo"]
      .set_number_value(1);
  const std::vector<SpecError> errors = ValidateStudySpec(spec);
  ASSERT_EQ(errors.size(), 1u) << Describe(errors);
  EXPECT_EQ(errors[0].path, "algorithm.settings.foo");
}

TEST(ValidateStudySpecTest, GpSettingsAreValidatedWithTheirPaths) {
  v1::StudySpec spec = ValidSpec();
  spec.mutable_algorithm()->set_name("gp");
  auto& settings = *spec.mutable_algorithm()->mutable_settings()->mutable_fields();
  settings["initial_trials"].set_number_value(8);
  settings["acquisition"].set_string_value("ucb");
  settings["beta"].set_number_value(3);
  EXPECT_TRUE(ValidateStudySpec(spec).empty())
      << Describe(ValidateStudySpec(spec));
  settings["acquisition"].set_string_value("pi");
  std::vector<SpecError> errors = ValidateStudySpec(spec);
  ASSERT_EQ(errors.size(), 1u) << Describe(errors);
  EXPECT_EQ(errors[0].path, "algorithm.settings.acquisition");
  EXPECT_EQ(errors[0].message, "must be 'log_ei' or 'ucb'");
  settings["acquisition"].set_string_value("ucb");
  settings["initial_trials"].set_number_value(0);
  errors = ValidateStudySpec(spec);
  ASSERT_EQ(errors.size(), 1u) << Describe(errors);
  EXPECT_EQ(errors[0].path, "algorithm.settings.initial_trials");
  EXPECT_EQ(errors[0].message, "must be from 1 to 10000 (got 0)");
}

TEST(LoadStudyYamlTest, GpStudyFromYamlNamesTheBadSettingsLine) {
  const LoadedStudy loaded = LoadStudyYaml(
      absl::StrReplaceAll(kMinimal, {{"trials:",
                                      "algorithm:\n  name: gp\n  settings:\n"
                                      "    noise_floor: 5\ntrials:"}}),
      kBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << Describe(loaded.errors);
  EXPECT_EQ(loaded.errors[0].path, "algorithm.settings.noise_floor");
  EXPECT_EQ(loaded.errors[0].line, 8);
  EXPECT_THAT(loaded.errors[0].message, HasSubstr("must be in [1e-10, 0.1]"));
}

TEST(ValidateStudySpecTest, WorkerOfKindNoneTakesNothingElse) {
  v1::StudySpec spec = ValidSpec();
  spec.mutable_worker()->set_kind(v1::WorkerSpec::NONE);
  EXPECT_THAT(
      ValidateStudySpec(spec),
      ElementsAre(::testing::Field(&SpecError::path, "worker.command")));
  spec.mutable_worker()->clear_command();
  EXPECT_TRUE(ValidateStudySpec(spec).empty())
      << Describe(ValidateStudySpec(spec));
  spec.mutable_worker()->set_working_dir("/srv/jobs");
  (*spec.mutable_worker()->mutable_env())["A"] = "b";
  spec.mutable_worker()->mutable_metrics()->set_collector(
      v1::MetricsSpec::PUSH);
  std::vector<std::string> paths;
  for (const SpecError& error : ValidateStudySpec(spec)) {
    paths.push_back(error.path);
  }
  EXPECT_THAT(
      paths, ElementsAre("worker.working_dir", "worker.env", "worker.metrics"));
}

TEST(ValidateStudySpecTest, EndpointRulesHoldForSpecsFromCode) {
  v1::StudySpec spec = ValidSpec();
  spec.mutable_algorithm()->set_name("external");
  std::vector<SpecError> errors = ValidateStudySpec(spec);
  ASSERT_EQ(errors.size(), 1u) << Describe(errors);
  EXPECT_EQ(errors[0].path, "algorithm.endpoint");
  EXPECT_THAT(errors[0].message, HasSubstr("required"));

  // Accepted without the plug-in running: nothing listens on port 9.
  for (absl::string_view endpoint :
       {"127.0.0.1:9", "localhost:7010", "[::1]:7010", "plugins.local:443"}) {
    spec.mutable_algorithm()->set_endpoint(std::string(endpoint));
    EXPECT_TRUE(ValidateStudySpec(spec).empty())
        << endpoint << Describe(ValidateStudySpec(spec));
  }
  for (absl::string_view endpoint :
       {":7010", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:port",
        "http://127.0.0.1:7010", "[::1:7010"}) {
    spec.mutable_algorithm()->set_endpoint(std::string(endpoint));
    errors = ValidateStudySpec(spec);
    ASSERT_EQ(errors.size(), 1u) << endpoint << Describe(errors);
    EXPECT_EQ(errors[0].path, "algorithm.endpoint") << endpoint;
  }

  spec.mutable_algorithm()->set_name("grid");
  spec.mutable_algorithm()->set_endpoint("127.0.0.1:7010");
  spec.mutable_parameters(0)->set_grid_points(3);
  errors = ValidateStudySpec(spec);
  ASSERT_EQ(errors.size(), 1u) << Describe(errors);
  EXPECT_EQ(errors[0].path, "algorithm.endpoint");
}

TEST(SpecErrorsToStatusTest, OneLinePerErrorWithSource) {
  const std::vector<SpecError> errors = {
      {"parameters[2].max", "must be greater than min (3 <= 5)", 12, 5},
      {"trials.parallel", "must be at least 1 (0)", 0, 0}};
  const absl::Status status = SpecErrorsToStatus(errors, "study.yaml:");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "study.yaml:12:5: parameters[2].max: must be greater than min "
            "(3 <= 5)\n"
            "study.yaml: trials.parallel: must be at least 1 (0)");
  EXPECT_EQ(SpecErrorsToStatus(errors, "").message(),
            "12:5: parameters[2].max: must be greater than min (3 <= 5)\n"
            "trials.parallel: must be at least 1 (0)");
}

TEST(SpecErrorsToStatusTest, NoErrorsIsOk) {
  EXPECT_TRUE(SpecErrorsToStatus({}, "study.yaml:").ok());
}

}  // namespace
}  // namespace vernier::controller
