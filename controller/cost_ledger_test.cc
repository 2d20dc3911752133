#include "controller/cost_ledger.h"

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "controller/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::controller {
namespace {

using ::testing::DoubleNear;
using ::testing::Optional;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

// 2 GPUs at 3.00/h and 4 CPUs at 0.25/h: 7.00 per trial-hour.
// No stop grace unless a test sets one.
v1::StudySpec Spec(std::optional<double> max_cost,
                   std::optional<absl::Duration> max_runtime) {
  v1::StudySpec spec;
  spec.mutable_trials()->mutable_stop_grace();
  v1::WorkerSpec& worker = *spec.mutable_worker();
  worker.set_gpus_per_trial(2);
  worker.set_cpus_per_trial(4);
  worker.mutable_pricing()->set_gpu_hour(3.0);
  worker.mutable_pricing()->set_cpu_hour(0.25);
  if (max_cost) spec.mutable_budget()->set_max_cost(*max_cost);
  if (max_runtime) {
    spec.mutable_trials()->mutable_max_runtime()->set_seconds(
        absl::ToInt64Seconds(*max_runtime));
  }
  return spec;
}

v1::Trial Running(absl::Duration for_how_long, double earlier_cost = 0) {
  v1::Trial trial;
  trial.set_state(v1::Trial::RUNNING);
  *trial.mutable_start_time() = ToProto(kNow - for_how_long);
  trial.set_cost(earlier_cost);
  return trial;
}

v1::Trial Ended(v1::Trial::State state, absl::Duration runtime, double cost) {
  v1::Trial trial;
  trial.set_state(state);
  *trial.mutable_start_time() = ToProto(kNow - absl::Hours(10));
  *trial.mutable_end_time() = ToProto(kNow - absl::Hours(10) + runtime);
  trial.set_cost(cost);
  return trial;
}

TEST(CostLedgerTest, ARunningTrialAccruesByTheSecondFromWhatItHolds) {
  const CostLedger ledger(Spec(std::nullopt, std::nullopt));
  EXPECT_DOUBLE_EQ(ledger.hourly_rate(), 7.0);
  const v1::Trial trial = Running(absl::Minutes(30), /*earlier_cost=*/1.5);
  EXPECT_DOUBLE_EQ(ledger.AttemptCost(trial, kNow), 3.5);
  EXPECT_DOUBLE_EQ(ledger.TrialCost(trial, kNow), 5.0);
  const v1::Trial ended = Ended(v1::Trial::SUCCEEDED, absl::Hours(1), 7.0);
  EXPECT_DOUBLE_EQ(ledger.AttemptCost(ended, kNow), 0.0);
  EXPECT_DOUBLE_EQ(ledger.TrialCost(ended, kNow), 7.0);
}

// A Kubernetes worker: 1 GPU, 4 CPUs (the template's sidecar adds 500m) and
// 16 GiB requested, at 2.00/GPU-h, 0.10/CPU-h and 0.01/GB-h: 2.56 per hour.
// No stop grace.
v1::StudySpec KubernetesSpec(absl::string_view gpus = "1") {
  v1::StudySpec spec;
  spec.set_name("k8s");
  spec.mutable_trials()->mutable_stop_grace();
  spec.add_parameters()->set_name("lr");
  v1::WorkerSpec& worker = *spec.mutable_worker();
  worker.set_kind(v1::WorkerSpec::KUBERNETES);
  v1::KubernetesWorkerSpec& kubernetes = *worker.mutable_kubernetes();
  kubernetes.set_namespace_("ml");
  kubernetes.set_image("train:1");
  (*kubernetes.mutable_resources())["cpu"] = "3500m";
  (*kubernetes.mutable_resources())["memory"] = "16Gi";
  (*kubernetes.mutable_resources())["nvidia.com/gpu"] = std::string(gpus);
  // spec.template.spec.containers: [{}, {name: log, resources: {requests:
  // {cpu: 500m}}}]
  google::protobuf::Struct& containers =
      *(*(*(*kubernetes.mutable_job_template()->mutable_fields())["spec"]
                .mutable_struct_value()
                ->mutable_fields())["template"]
              .mutable_struct_value()
              ->mutable_fields())["spec"]
           .mutable_struct_value();
  google::protobuf::ListValue& list =
      *(*containers.mutable_fields())["containers"].mutable_list_value();
  list.add_values()->mutable_struct_value();
  google::protobuf::Struct& sidecar = *list.add_values()->mutable_struct_value();
  (*sidecar.mutable_fields())["name"].set_string_value("log");
  (*(*(*sidecar.mutable_fields())["resources"]
          .mutable_struct_value()
          ->mutable_fields())["requests"]
        .mutable_struct_value()
        ->mutable_fields())["cpu"]
      .set_string_value("500m");
  worker.mutable_pricing()->set_gpu_hour(2.0);
  worker.mutable_pricing()->set_cpu_hour(0.10);
  worker.mutable_pricing()->set_memory_gb_hour(0.01);
  return spec;
}

TEST(CostLedgerTest, AKubernetesTrialIsPricedByItsPodsRequests) {
  absl::StatusOr<TrialResources> resources =
      ResourcesPerTrial(KubernetesSpec());
  ASSERT_TRUE(resources.ok()) << resources.status();
  EXPECT_DOUBLE_EQ(resources->gpus, 1);
  EXPECT_DOUBLE_EQ(resources->cpus, 4);
  EXPECT_DOUBLE_EQ(resources->memory_gb, 16);
  EXPECT_DOUBLE_EQ(CostLedger(KubernetesSpec()).hourly_rate(), 2.56);
}

TEST(CostLedgerTest, AKubernetesRequestThatNamesAParameterCannotBePriced) {
  absl::StatusOr<TrialResources> resources =
      ResourcesPerTrial(KubernetesSpec("${params.lr}"));
  EXPECT_FALSE(resources.ok());
  EXPECT_THAT(std::string(resources.status().message()),
              ::testing::HasSubstr("'${params.lr}' is not a Kubernetes "
                                   "quantity"));
  EXPECT_DOUBLE_EQ(HourlyRate(KubernetesSpec("${params.lr}")), 0);
}

TEST(CostLedgerTest, AKubernetesTrialCostsNothingUntilItsPodRuns) {
  v1::StudySpec spec = KubernetesSpec();
  spec.mutable_budget()->set_max_cost(100);
  spec.mutable_trials()->mutable_max_runtime()->set_seconds(3600);
  const CostLedger ledger(spec);
  // Created an hour ago; its pod has waited for a node since.
  v1::Trial waiting = Running(absl::Hours(1), /*earlier_cost=*/0.5);
  EXPECT_DOUBLE_EQ(ledger.AttemptCost(waiting, kNow), 0);
  EXPECT_DOUBLE_EQ(ledger.TrialCost(waiting, kNow), 0.5);
  // Its pod has run for the last half hour.
  v1::Trial running = waiting;
  *running.mutable_run_start_time() = ToProto(kNow - absl::Minutes(30));
  EXPECT_DOUBLE_EQ(ledger.AttemptCost(running, kNow), 1.28);

  // A waiting pod burns nothing but may still cost its whole max_runtime;
  // a running one has half an hour left.
  const CostBalance balance = ledger.Balance({&waiting, &running}, kNow);
  EXPECT_DOUBLE_EQ(balance.burn_per_hour, 2.56);
  EXPECT_DOUBLE_EQ(balance.spent, 0.5 + 0.5 + 1.28);
  EXPECT_NEAR(balance.committed, 2.56 + 1.28, 1e-9);
  EXPECT_EQ(balance.running, 2);
}

TEST(CostLedgerTest, AdmitsATrialOnlyWhenTheBudgetCarriesItToMaxRuntime) {
  // One hour at most per trial: 7.00 each.
  const CostLedger ledger(Spec(20.0, absl::Hours(1)));
  const v1::Trial done = Ended(v1::Trial::SUCCEEDED, absl::Minutes(30), 3.5);
  const v1::Trial running = Running(absl::Minutes(15));
  // spent 3.5 + 1.75, committed 5.25 for the rest of the running hour.
  CostBalance balance = ledger.Balance({&done, &running}, kNow);
  EXPECT_DOUBLE_EQ(balance.spent, 5.25);
  EXPECT_DOUBLE_EQ(balance.committed, 5.25);
  EXPECT_DOUBLE_EQ(balance.remaining, 9.5);
  EXPECT_DOUBLE_EQ(balance.burn_per_hour, 7.0);
  EXPECT_THAT(balance.affordable_trials, Optional(1));
  EXPECT_TRUE(ledger.CanStart(balance));
  // A second running trial commits 7.00 more: 2.50 left, not enough.
  const v1::Trial starting = Running(absl::ZeroDuration());
  balance = ledger.Balance({&done, &running, &starting}, kNow);
  EXPECT_DOUBLE_EQ(balance.remaining, 2.5);
  EXPECT_FALSE(ledger.CanStart(balance));
  EXPECT_FALSE(ledger.Exhausted(balance));
}

TEST(CostLedgerTest, WithoutMaxRuntimeProjectsThe90thPercentileOfEndedTrials) {
  const CostLedger ledger(Spec(100.0, std::nullopt));
  EXPECT_EQ(ledger.ProjectedRuntime({}), absl::ZeroDuration());
  std::vector<v1::Trial> trials;
  for (int minutes = 1; minutes <= 10; ++minutes) {
    trials.push_back(Ended(v1::Trial::SUCCEEDED, absl::Minutes(minutes), 0));
  }
  // Stopped trials did not run to their end and do not count.
  trials.push_back(Ended(v1::Trial::STOPPED, absl::Hours(5), 0));
  std::vector<const v1::Trial*> views;
  for (const v1::Trial& trial : trials) views.push_back(&trial);
  EXPECT_EQ(ledger.ProjectedRuntime(views), absl::Minutes(9));
}

TEST(CostLedgerTest, BeforeAnyTrialEndedItAdmitsWhileMoneyRemains) {
  const CostLedger ledger(Spec(10.0, std::nullopt));
  const v1::Trial running = Running(absl::Hours(1));
  CostBalance balance = ledger.Balance({&running}, kNow);
  EXPECT_EQ(balance.affordable_trials, std::nullopt);
  EXPECT_TRUE(ledger.CanStart(balance));
  const v1::Trial long_running = Running(absl::Minutes(90));
  balance = ledger.Balance({&long_running}, kNow);
  EXPECT_THAT(balance.spent, DoubleNear(10.5, 1e-9));
  EXPECT_TRUE(ledger.Exhausted(balance));
  EXPECT_FALSE(ledger.CanStart(balance));
}

TEST(CostLedgerTest, AStoppedWorkersGraceCountsInItsProjection) {
  // 7.00/h for 1 h plus 6 min of grace: 7.70 per trial.
  v1::StudySpec spec = Spec(7.5, absl::Hours(1));
  spec.mutable_trials()->mutable_stop_grace()->set_seconds(360);
  const CostLedger ledger(spec);
  EXPECT_EQ(ledger.ProjectedRuntime({}), absl::Minutes(66));
  EXPECT_FALSE(ledger.CanStart(ledger.Balance({}, kNow)));
}

TEST(CostLedgerTest, ExhaustedAheadOfTheLimitByTheLeadAtTheBurnRate) {
  const CostLedger ledger(Spec(10.0, std::nullopt));
  // 9.80 spent, burning 7.00/h: the limit is 1 min 42 s away.
  const v1::Trial running = Running(absl::Seconds(5040));
  const CostBalance balance = ledger.Balance({&running}, kNow);
  EXPECT_THAT(balance.spent, DoubleNear(9.8, 1e-9));
  EXPECT_FALSE(ledger.Exhausted(balance, absl::Seconds(90)));
  EXPECT_TRUE(ledger.Exhausted(balance, absl::Seconds(110)));
}

TEST(CostLedgerTest, WithoutABudgetEverythingStarts) {
  const CostLedger ledger(Spec(std::nullopt, absl::Hours(1)));
  const v1::Trial running = Running(absl::Hours(3));
  const CostBalance balance = ledger.Balance({&running}, kNow);
  EXPECT_FALSE(ledger.has_budget());
  EXPECT_DOUBLE_EQ(balance.spent, 21.0);
  EXPECT_TRUE(ledger.CanStart(balance));
  EXPECT_FALSE(ledger.Exhausted(balance));
}

}  // namespace
}  // namespace vernier::controller
