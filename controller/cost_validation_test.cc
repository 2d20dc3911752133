// The resources, prices, budget and labels of a study YAML: how they load
// and every rule about them (cost_validation.h).
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "controller/spec_test_util.h"
#include "controller/study_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::string_view kBaseDir = kTestBaseDir;

constexpr absl::string_view kCostStudy = R"yaml(name: priced
labels: {team: fraud, owner: ana, example.com/tier: gold}
objective: {metric: loss, goal: minimize}
parameters:
  - {name: lr, type: double, min: 0.001, max: 0.1, scale: log}
trials: {max: 10, parallel: 2, max_runtime: 30m}
worker:
  command: [python3, train.py]
  gpus_per_trial: 1
  gpus: [0, 1, GPU-7e8f9a0b]
  cpus_per_trial: 2
  memory_gb_per_trial: 16
  pricing: {gpu_hour: 2.48, cpu_hour: 0.05, memory_gb_hour: 0.004}
budget:
  max_cost: 40.00
  currency: EUR
  on_exhausted: drain
)yaml";

TEST(CostSpecTest, EveryFieldLoads) {
  const LoadedStudy loaded = LoadStudyYaml(kCostStudy, kBaseDir);
  ASSERT_THAT(loaded.errors, IsEmpty()) << Describe(loaded.errors);
  const v1::StudySpec& spec = loaded.spec;
  EXPECT_EQ(spec.labels().at("team"), "fraud");
  EXPECT_EQ(spec.labels().at("example.com/tier"), "gold");
  const v1::WorkerSpec& worker = spec.worker();
  EXPECT_EQ(worker.gpus_per_trial(), 1);
  EXPECT_THAT(worker.gpus(), ElementsAre("0", "1", "GPU-7e8f9a0b"));
  EXPECT_EQ(worker.cpus_per_trial(), 2);
  EXPECT_DOUBLE_EQ(worker.memory_gb_per_trial(), 16);
  EXPECT_DOUBLE_EQ(worker.pricing().gpu_hour(), 2.48);
  EXPECT_DOUBLE_EQ(worker.pricing().cpu_hour(), 0.05);
  EXPECT_DOUBLE_EQ(worker.pricing().memory_gb_hour(), 0.004);
  EXPECT_DOUBLE_EQ(spec.budget().max_cost(), 40.0);
  EXPECT_EQ(spec.budget().currency(), "EUR");
  EXPECT_EQ(spec.budget().on_exhausted(), v1::BudgetSpec::DRAIN);
}

TEST(CostSpecTest, DefaultsAreAutoGpusUsdAndStop) {
  const LoadedStudy loaded = LoadStudyYaml(
      absl::StrReplaceAll(kCostStudy, {{"[0, 1, GPU-7e8f9a0b]", "auto"},
                                       {"  currency: EUR\n", ""},
                                       {"  on_exhausted: drain\n", ""}}),
      kBaseDir);
  ASSERT_THAT(loaded.errors, IsEmpty()) << Describe(loaded.errors);
  EXPECT_THAT(loaded.spec.worker().gpus(), IsEmpty());
  EXPECT_EQ(loaded.spec.budget().currency(), "USD");
  EXPECT_EQ(loaded.spec.budget().on_exhausted(), v1::BudgetSpec::STOP);
}

struct CostCase {
  std::string label, from, to, path, message;
  int line = 0;
};

void PrintTo(const CostCase& c, std::ostream* os) { *os << c.label; }

class MalformedCostTest : public ::testing::TestWithParam<CostCase> {};

TEST_P(MalformedCostTest, NamesTheFieldAndItsLine) {
  const CostCase& c = GetParam();
  ExpectTheOneError(kCostStudy, MalformedCase{c.label, c.from, c.to, c.path,
                                              c.line, /*column=*/0, c.message});
}

INSTANTIATE_TEST_SUITE_P(
    Table, MalformedCostTest,
    ::testing::Values(
        CostCase{"ZeroBudget", "max_cost: 40.00", "max_cost: 0",
                 "budget.max_cost", "greater than 0", 15},
        CostCase{"MissingBudget", "  max_cost: 40.00\n", "", "budget.max_cost",
                 "required", 14},
        CostCase{"QuotedBudget", "max_cost: 40.00", "max_cost: \"40\"",
                 "budget.max_cost", "number", 15},
        CostCase{"BadCurrency", "currency: EUR", "currency: euro",
                 "budget.currency", "three capital letters", 16},
        CostCase{"UnknownOnExhausted", "on_exhausted: drain",
                 "on_exhausted: pause", "budget.on_exhausted",
                 "must be one of stop, drain", 17},
        CostCase{"NegativePrice", "gpu_hour: 2.48", "gpu_hour: -1",
                 "worker.pricing.gpu_hour", ">= 0", 13},
        CostCase{"BudgetWithoutPrices",
                 "  pricing: {gpu_hour: 2.48, cpu_hour: 0.05, memory_gb_hour: "
                 "0.004}\n",
                 "", "worker.pricing", "a budget needs prices", 7},
        CostCase{"NegativeGpus", "gpus_per_trial: 1", "gpus_per_trial: -1",
                 "worker.gpus_per_trial", "at least 0", 9},
        CostCase{"MoreGpusThanListed", "gpus_per_trial: 1",
                 "gpus_per_trial: 4", "worker.gpus_per_trial",
                 "each trial needs 4 GPUs but worker.gpus lists 3", 9},
        CostCase{"GpuListedTwice", "[0, 1, GPU-7e8f9a0b]", "[0, 1, 0]",
                 "worker.gpus[2]", "listed twice", 10},
        CostCase{"GpusNotAList", "[0, 1, GPU-7e8f9a0b]", "all",
                 "worker.gpus", "auto, or [0, 1]", 10},
        CostCase{"BadLabelName", "owner: ana", "\"own er\": ana",
                 "labels.own er", "not a label name", 2},
        CostCase{"BadLabelValue", "owner: ana", "owner: \"ana smith\"",
                 "labels.owner", "not a label value", 2},
        CostCase{"BudgetForAskTell",
                 "  command: [python3, train.py]\n  gpus_per_trial: 1\n"
                 "  gpus: [0, 1, GPU-7e8f9a0b]\n  cpus_per_trial: 2\n"
                 "  memory_gb_per_trial: 16\n"
                 "  pricing: {gpu_hour: 2.48, cpu_hour: 0.05, "
                 "memory_gb_hour: 0.004}\n",
                 "  kind: none\n", "budget",
                 "a study of worker kind none runs none", 9}),
    [](const ::testing::TestParamInfo<CostCase>& info) {
      return info.param.label;
    });

}  // namespace
}  // namespace vernier::controller
