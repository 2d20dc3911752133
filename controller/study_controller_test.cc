#include "controller/study_controller.h"

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "controller/study_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite_store.h"

namespace vernier::controller {
namespace {

using trial_runner::ExecutorEvent;
using trial_runner::MetricsObserved;
using trial_runner::TrialLaunch;
using trial_runner::WorkerExited;
using trial_runner::WorkerStarted;

// What a fake worker does: exit at once with these results, or hang until
// stopped.
struct Outcome {
  bool hang = false;
  int exit_code = 0;
  std::map<std::string, double> final_metrics;
  std::map<int64_t, std::map<std::string, double>> steps;
};

// An Executor whose workers are scripted, so the controller's logic can be
// tested without processes. Checks that every trial's row says RUNNING in
// the store when its launch arrives.
class FakeExecutor final : public trial_runner::Executor {
 public:
  using Script = std::function<Outcome(const TrialLaunch&, int attempt)>;

  FakeExecutor(storage::Store* store, Script script)
      : store_(store), script_(std::move(script)) {}

  void SetSink(std::function<void(ExecutorEvent)> sink) {
    sink_ = std::move(sink);
  }

  void Launch(TrialLaunch launch) override {
    absl::StatusOr<v1::Trial> row = store_->GetTrial(launch.trial_id);
    const int attempt = row.ok() ? row->attempt() : 0;
    Outcome outcome = script_(launch, attempt);
    {
      absl::MutexLock lock(&mutex_);
      if (!row.ok() || row->state() != v1::Trial::RUNNING) ++rows_not_running_;
      launches_.push_back(launch);
      running_.insert(launch.trial_id);
      max_running_ = std::max(max_running_, static_cast<int>(running_.size()));
    }
    sink_(WorkerStarted{launch.trial_id, {}});
    for (const auto& [step, metrics] : outcome.steps) {
      sink_(MetricsObserved{launch.trial_id, step, metrics});
    }
    if (!outcome.final_metrics.empty()) {
      sink_(MetricsObserved{launch.trial_id, std::nullopt,
                            outcome.final_metrics});
    }
    if (!outcome.hang)
      Exit(launch.trial_id, WorkerExited{.exit_code = outcome.exit_code});
  }

  void Stop(int64_t trial_id) override {
    Exit(trial_id, WorkerExited{.exit_signal = 15, .stopped = true});
  }

  absl::Status Reclaim(const v1::Trial& trial) override {
    absl::MutexLock lock(&mutex_);
    reclaimed_.push_back(trial.id());
    return absl::OkStatus();
  }

  void Shutdown() override {}

  int max_running() {
    absl::MutexLock lock(&mutex_);
    return max_running_;
  }
  int running() {
    absl::MutexLock lock(&mutex_);
    return static_cast<int>(running_.size());
  }
  int rows_not_running() {
    absl::MutexLock lock(&mutex_);
    return rows_not_running_;
  }
  std::vector<TrialLaunch> launches() {
    absl::MutexLock lock(&mutex_);
    return launches_;
  }
  std::vector<int64_t> reclaimed() {
    absl::MutexLock lock(&mutex_);
    return reclaimed_;
  }

 private:
  void Exit(int64_t trial_id, WorkerExited exited) {
    {
      absl::MutexLock lock(&mutex_);
      if (running_.erase(trial_id) == 0) return;
    }
    exited.trial_id = trial_id;
    sink_(exited);
  }

  storage::Store* const store_;
  const Script script_;
  std::function<void(ExecutorEvent)> sink_;
  absl::Mutex mutex_;
  std::set<int64_t> running_ ABSL_GUARDED_BY(mutex_);
  int max_running_ ABSL_GUARDED_BY(mutex_) = 0;
  int rows_not_running_ ABSL_GUARDED_BY(mutex_) = 0;
  std::vector<TrialLaunch> launches_ ABSL_GUARDED_BY(mutex_);
  std::vector<int64_t> reclaimed_ ABSL_GUARDED_BY(mutex_);
};

double Param(const TrialLaunch& launch, const std::string& name) {
  return std::stod(launch.env.at("VERNIER_PARAM_" + name));
}

Outcome Succeed(double accuracy) {
  return Outcome{.final_metrics = {{"accuracy", accuracy}}};
}

class StudyControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vernier-controller-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto store = storage::OpenSqliteStore((dir_ / "vernier.db").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  v1::Study MakeStudy(const std::string& yaml) {
    LoadedStudy loaded = LoadStudyYaml(yaml, dir_.string());
    EXPECT_TRUE(loaded.errors.empty()) << loaded.errors.front().ToString();
    auto study = CreateOrResumeStudy(store_.get(), loaded.spec, yaml);
    EXPECT_TRUE(study.ok()) << study.status();
    return *study;
  }

  // Runs the study to its end with `executor`; `during` runs on the test
  // thread while the loop runs.
  v1::Study RunStudy(const v1::Study& study, FakeExecutor& executor,
                     std::function<void(StudyController&)> during = nullptr) {
    auto controller = StudyController::Create(
        store_.get(), &executor, study.id(),
        StudyControllerOptions{.log_dir = (dir_ / "logs").string()});
    EXPECT_TRUE(controller.ok()) << controller.status();
    StudyController* raw = controller->get();
    executor.SetSink(
        [raw](ExecutorEvent event) { raw->OnExecutorEvent(std::move(event)); });
    absl::StatusOr<v1::Study> result;
    std::thread loop([&] { result = raw->Run(); });
    if (during) during(*raw);
    loop.join();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.value_or(v1::Study());
  }

  std::vector<v1::Trial> Trials(const v1::Study& study) {
    return store_->ListTrials(study.id()).value();
  }

  static std::string Yaml(const std::string& trials,
                          const std::string& extra = "") {
    return R"(
name: fake
objective: {metric: accuracy, goal: maximize)" +
           extra + R"(}
algorithm: {name: random, seed: 3}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: )" +
           trials + R"(
worker: {command: ["train", "--x=${params.x}"]}
)";
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::Store> store_;
};

void WaitFor(std::function<bool()> condition) {
  for (int i = 0; i < 1000 && !condition(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(condition());
}

TEST_F(StudyControllerTest, RunsEveryTrialAndPicksTheBest) {
  v1::Study study = MakeStudy(Yaml("{max: 12, parallel: 3}"));
  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    return Succeed(Param(launch, "x"));
  });
  v1::Study done = RunStudy(study, executor);

  EXPECT_EQ(done.state(), v1::Study::DONE);
  EXPECT_EQ(done.end_reason(), v1::Study::MAX_TRIALS);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 12u);
  double best = -1;
  for (const v1::Trial& trial : trials) {
    EXPECT_EQ(trial.state(), v1::Trial::SUCCEEDED);
    EXPECT_DOUBLE_EQ(trial.objective(),
                     trial.parameters().at("x").number_value());
    best = std::max(best, trial.objective());
  }
  EXPECT_EQ(Summarize(study.spec().objective(), trials).best->objective(),
            best);
  EXPECT_EQ(executor.rows_not_running(), 0)
      << "a worker started before its row";
  EXPECT_LE(executor.max_running(), 3);
  // The command and environment carry the trial's parameters.
  const TrialLaunch first = executor.launches().front();
  EXPECT_EQ(first.argv[1], "--x=" + first.env.at("VERNIER_PARAM_x"));
  EXPECT_EQ(first.env.at("VERNIER_STUDY"), "fake");
}

TEST_F(StudyControllerTest, NeverRunsMoreThanParallelTrials) {
  v1::Study study = MakeStudy(Yaml("{max: 6, parallel: 2}"));
  FakeExecutor executor(store_.get(), [](const TrialLaunch&, int) {
    return Outcome{.hang = true};
  });
  RunStudy(study, executor, [&](StudyController& controller) {
    WaitFor([&] { return executor.running() == 2; });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(executor.max_running(), 2);
    controller.RequestStop();
  });
}

TEST_F(StudyControllerTest, StoppingOneTrialEndsItStoppedAndTheStudyGoesOn) {
  v1::Study study = MakeStudy(Yaml("{max: 3}"));
  // Trial 1 hangs until stopped; the others succeed.
  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    return launch.env.at("VERNIER_TRIAL_NUMBER") == "1" ? Outcome{.hang = true}
                                                        : Succeed(0.5);
  });
  absl::Mutex mutex;
  std::vector<absl::Status> answers;
  auto record = [&](absl::Status status) {
    absl::MutexLock lock(&mutex);
    answers.push_back(std::move(status));
  };
  v1::Study done = RunStudy(study, executor, [&](StudyController& controller) {
    WaitFor([&] { return executor.running() == 1; });
    const int64_t first = executor.launches().front().trial_id;
    controller.StopTrial(first + 1000, record);  // not this study's
    controller.StopTrial(first, record);
  });
  EXPECT_EQ(done.state(), v1::Study::DONE);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[0].state(), v1::Trial::STOPPED);
  EXPECT_EQ(trials[0].state_message(), "stopped by a user");
  EXPECT_EQ(trials[1].state(), v1::Trial::SUCCEEDED);
  absl::MutexLock lock(&mutex);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(answers[1].ok()) << answers[1];
}

TEST_F(StudyControllerTest, FailsWhenMoreThanMaxFailedTrialsFail) {
  v1::Study study = MakeStudy(Yaml("{max: 10, max_failed: 2}"));
  FakeExecutor executor(store_.get(), [](const TrialLaunch&, int) {
    return Outcome{.exit_code = 1};
  });
  v1::Study done = RunStudy(study, executor);
  EXPECT_EQ(done.state(), v1::Study::FAILED);
  EXPECT_EQ(done.end_reason(), v1::Study::TOO_MANY_FAILURES);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[0].state(), v1::Trial::FAILED);
  EXPECT_EQ(trials[0].state_message(), "exited with code 1");
  EXPECT_EQ(trials[0].exit_code(), 1);
}

TEST_F(StudyControllerTest, RetriesAFailedWorker) {
  v1::Study study = MakeStudy(Yaml("{max: 3, retries: 1}"));
  FakeExecutor executor(store_.get(), [](const TrialLaunch&, int attempt) {
    return attempt == 1 ? Outcome{.exit_code = 2} : Succeed(0.5);
  });
  v1::Study done = RunStudy(study, executor);
  EXPECT_EQ(done.state(), v1::Study::DONE);
  for (const v1::Trial& trial : Trials(study)) {
    EXPECT_EQ(trial.state(), v1::Trial::SUCCEEDED);
    EXPECT_EQ(trial.attempt(), 2);
  }
  EXPECT_EQ(executor.launches().size(), 6u);
}

TEST_F(StudyControllerTest, StopsRunningTrialsWhenTheTargetIsReached) {
  v1::Study study = MakeStudy(Yaml("{max: 20, parallel: 2}", ", target: 0.9"));
  // Trial 1 hangs; trial 2 reaches the target.
  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    return launch.env.at("VERNIER_TRIAL_NUMBER") == "1" ? Outcome{.hang = true}
                                                        : Succeed(0.95);
  });
  v1::Study done = RunStudy(study, executor);
  EXPECT_EQ(done.state(), v1::Study::DONE);
  EXPECT_EQ(done.end_reason(), v1::Study::TARGET_REACHED);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state(), v1::Trial::STOPPED);
  EXPECT_EQ(trials[1].state(), v1::Trial::SUCCEEDED);
}

TEST_F(StudyControllerTest, NonFiniteObjectiveIsInfeasibleAndMissingOneFails) {
  v1::Study study = MakeStudy(Yaml("{max: 2}"));
  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    if (launch.env.at("VERNIER_TRIAL_NUMBER") == "1") return Succeed(NAN);
    return Outcome{.final_metrics = {{"other", 1}}};
  });
  RunStudy(study, executor);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state(), v1::Trial::INFEASIBLE);
  EXPECT_EQ(trials[1].state(), v1::Trial::FAILED);
  EXPECT_THAT(trials[1].state_message(),
              ::testing::HasSubstr("no value of 'accuracy'"));
  EXPECT_FALSE(Summarize(study.spec().objective(), trials).best.has_value());
}

TEST_F(StudyControllerTest, LastIntermediateValueCountsWhenNoFinalValue) {
  v1::Study study = MakeStudy(Yaml("{max: 1}"));
  FakeExecutor executor(store_.get(), [](const TrialLaunch&, int) {
    return Outcome{
        .steps = {{1, {{"accuracy", 0.3}}}, {2, {{"accuracy", 0.7}}}}};
  });
  RunStudy(study, executor);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].state(), v1::Trial::SUCCEEDED);
  EXPECT_DOUBLE_EQ(trials[0].objective(), 0.7);
  auto measurements = store_->ListMeasurements(trials[0].id());
  ASSERT_TRUE(measurements.ok());
  EXPECT_EQ(measurements->size(), 2u);
}

TEST_F(StudyControllerTest, StopRequestThenResumeFinishesExactlyMaxTrials) {
  v1::Study study = MakeStudy(Yaml("{max: 5, parallel: 2}"));
  FakeExecutor hanging(store_.get(), [](const TrialLaunch&, int) {
    return Outcome{.hang = true};
  });
  v1::Study stopped =
      RunStudy(study, hanging, [&](StudyController& controller) {
        WaitFor([&] { return hanging.running() == 2; });
        controller.RequestStop();
      });
  EXPECT_EQ(stopped.state(), v1::Study::STOPPED);
  EXPECT_EQ(stopped.end_reason(), v1::Study::USER_STOPPED);
  for (const v1::Trial& trial : Trials(study)) {
    EXPECT_EQ(trial.state(), v1::Trial::PENDING);
  }

  FakeExecutor working(store_.get(), [](const TrialLaunch& launch, int) {
    return Succeed(Param(launch, "x"));
  });
  v1::Study done = RunStudy(stopped, working);
  EXPECT_EQ(done.state(), v1::Study::DONE);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 5u);
  for (const v1::Trial& trial : trials)
    EXPECT_EQ(trial.state(), v1::Trial::SUCCEEDED);
}

TEST_F(StudyControllerTest, ResumeReclaimsAndRerunsTrialsLeftRunning) {
  v1::Study study = MakeStudy(Yaml("{max: 2}"));
  v1::Trial left;
  left.set_study_id(study.id());
  left.set_number(1);
  (*left.mutable_parameters())["x"].set_number_value(0.25);
  left.set_state(v1::Trial::RUNNING);
  left.set_attempt(1);
  left.mutable_local_worker()->set_pid(999999);
  auto created = store_->CreateTrials({left});
  ASSERT_TRUE(created.ok());

  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    return Succeed(Param(launch, "x"));
  });
  RunStudy(study, executor);
  EXPECT_THAT(executor.reclaimed(),
              ::testing::ElementsAre(created->front().id()));
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state(), v1::Trial::SUCCEEDED);
  EXPECT_DOUBLE_EQ(trials[0].objective(), 0.25);
  EXPECT_EQ(trials[0].attempt(), 2);
}

TEST_F(StudyControllerTest, GridEndsWhenTheSpaceIsUsedUp) {
  const std::string yaml = R"(
name: grid
objective: {metric: accuracy, goal: minimize}
algorithm: {name: grid}
parameters:
  - {name: k, type: categorical, values: [a, b, c]}
trials: {max: 10, parallel: 2}
worker: {command: ["train"]}
)";
  v1::Study study = MakeStudy(yaml);
  FakeExecutor executor(store_.get(),
                        [](const TrialLaunch&, int) { return Succeed(1); });
  v1::Study done = RunStudy(study, executor);
  EXPECT_EQ(done.state(), v1::Study::DONE);
  EXPECT_EQ(done.end_reason(), v1::Study::SPACE_EXHAUSTED);
  EXPECT_EQ(Trials(study).size(), 3u);
}

TEST_F(StudyControllerTest, ResumingWithAChangedSpecIsRefused) {
  MakeStudy(Yaml("{max: 2}"));
  LoadedStudy changed = LoadStudyYaml(Yaml("{max: 3}"), dir_.string());
  auto study = CreateOrResumeStudy(store_.get(), changed.spec, "");
  ASSERT_FALSE(study.ok());
  EXPECT_EQ(study.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(study.status().message()),
              ::testing::HasSubstr("max"));
}

}  // namespace
}  // namespace vernier::controller
