#include "controller/cost_ledger.h"

#include <vector>

#include "controller/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::controller {
namespace {

using ::testing::DoubleNear;
using ::testing::Optional;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

// 2 GPUs at 3.00/h and 4 CPUs at 0.25/h: 7.00 per trial-hour.
v1::StudySpec Spec(std::optional<double> max_cost,
                   std::optional<absl::Duration> max_runtime) {
  v1::StudySpec spec;
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
