#include "controller/study_controller.h"

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "controller/run_limits.h"
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

  // Adopt takes over the workers of these trials; they run until EndWorker.
  void AdoptOnResume(std::set<int64_t> trial_ids) {
    absl::MutexLock lock(&mutex_);
    adoptable_ = std::move(trial_ids);
  }

  std::map<int64_t, trial_runner::AdoptedWorker> Adopt(
      const std::vector<TrialLaunch>& running) override {
    absl::MutexLock lock(&mutex_);
    std::map<int64_t, trial_runner::AdoptedWorker> adopted;
    for (const TrialLaunch& launch : running) {
      offered_.push_back(launch.trial_id);
      if (!adoptable_.contains(launch.trial_id)) continue;
      running_.insert(launch.trial_id);
      adopted[launch.trial_id] = {absl::StrCat("token-", launch.trial_id)};
    }
    return adopted;
  }

  void EndWorker(int64_t trial_id, int exit_code) {
    Exit(trial_id, WorkerExited{.exit_code = exit_code});
  }

  void Shutdown() override {}

  std::vector<int64_t> offered() {
    absl::MutexLock lock(&mutex_);
    return offered_;
  }
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
  std::set<int64_t> adoptable_ ABSL_GUARDED_BY(mutex_);
  std::vector<int64_t> offered_ ABSL_GUARDED_BY(mutex_);
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
                     std::function<void(StudyController&)> during = nullptr,
                     StudyControllerOptions options = {}) {
    options.log_dir = (dir_ / "logs").string();
    auto controller = StudyController::Create(store_.get(), &executor,
                                              study.id(), std::move(options));
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

  // `tail` is appended to the study (early_stopping, ...).
  static std::string Yaml(const std::string& trials,
                          const std::string& extra = "",
                          const std::string& worker_extra = "",
                          const std::string& tail = "") {
    return R"(
name: fake
objective: {metric: accuracy, goal: maximize)" +
           extra + R"(}
algorithm: {name: random, seed: 3}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: )" +
           trials + R"(
worker: {command: ["train", "--x=${params.x}"])" +
           worker_extra + "}\n" + tail;
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

// Trial 1 (x = 0.25) of `study`, RUNNING in its first attempt, as a
// process that crashed left it.
v1::Trial LeftRunning(const v1::Study& study) {
  v1::Trial left;
  left.set_study_id(study.id());
  left.set_number(1);
  (*left.mutable_parameters())["x"].set_number_value(0.25);
  left.set_state(v1::Trial::RUNNING);
  left.set_attempt(1);
  left.mutable_local_worker()->set_pid(999999);
  return left;
}

// Stores LeftRunning(study); returns its id.
int64_t LeaveTrialRunning(storage::Store& store, const v1::Study& study) {
  auto created = store.CreateTrials({LeftRunning(study)});
  EXPECT_TRUE(created.ok()) << created.status();
  return created.ok() ? created->front().id() : 0;
}

TEST_F(StudyControllerTest, ResumeReclaimsAndRerunsTrialsLeftRunning) {
  v1::Study study = MakeStudy(Yaml("{max: 2}"));
  const int64_t id = LeaveTrialRunning(*store_, study);

  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    return Succeed(Param(launch, "x"));
  });
  RunStudy(study, executor);
  EXPECT_THAT(executor.reclaimed(), ::testing::ElementsAre(id));
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state(), v1::Trial::SUCCEEDED);
  EXPECT_DOUBLE_EQ(trials[0].objective(), 0.25);
  EXPECT_EQ(trials[0].attempt(), 2);
}

TEST_F(StudyControllerTest,
       ResumeKeepsTheAcknowledgedResultOfATrialLeftRunning) {
  v1::Study study = MakeStudy(Yaml("{max: 2}"));
  // Its FinishTrial was acknowledged; the server died before it exited.
  v1::Trial finished = LeftRunning(study);
  (*finished.mutable_final_metrics())[study.spec().objective().metric()] = 7;
  auto created = store_->CreateTrials({finished});
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
  EXPECT_DOUBLE_EQ(trials[0].objective(), 7);
  EXPECT_EQ(trials[0].attempt(), 1);
  EXPECT_FALSE(trials[0].has_local_worker());
}

TEST_F(StudyControllerTest, ResumeFollowsTheWorkersTheExecutorAdopts) {
  v1::Study study = MakeStudy(Yaml("{max: 2}"));
  const int64_t id = LeaveTrialRunning(*store_, study);
  // Reported before the restart.
  v1::Measurement measurement;
  measurement.set_step(3);
  (*measurement.mutable_metrics())["accuracy"] = 0.75;
  ASSERT_TRUE(store_->AddMeasurements(id, {measurement}).ok());

  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    return Succeed(Param(launch, "x"));
  });
  executor.AdoptOnResume({id});
  TrialRegistry registry;
  StudyControllerOptions options;
  options.registry = &registry;
  options.report_endpoint = "127.0.0.1:1";
  RunStudy(
      study, executor,
      [&](StudyController&) {
        // Its worker reports again with the token it was launched with.
        WaitFor([&] { return registry.Check(id, absl::StrCat("token-", id)).ok(); });
        EXPECT_FALSE(registry.Check(id, "another").ok());
        executor.EndWorker(id, 0);
      },
      std::move(options));
  EXPECT_THAT(executor.offered(), ::testing::ElementsAre(id));
  EXPECT_THAT(executor.reclaimed(), ::testing::IsEmpty());
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state(), v1::Trial::SUCCEEDED);
  EXPECT_EQ(trials[0].attempt(), 1);  // not run again
  // No final value: its last report before the restart stands for one.
  EXPECT_DOUBLE_EQ(trials[0].objective(), 0.75);
  for (const TrialLaunch& launch : executor.launches()) {
    EXPECT_NE(launch.trial_id, id);
  }
}

TEST_F(StudyControllerTest, AnAdoptedWorkerHoldsASlotOfTheServersCap) {
  v1::Study study = MakeStudy(Yaml("{max: 2, parallel: 2}"));
  const int64_t id = LeaveTrialRunning(*store_, study);
  v1::Measurement measurement;  // its objective, reported before the restart
  measurement.set_step(1);
  (*measurement.mutable_metrics())["accuracy"] = 0.5;
  ASSERT_TRUE(store_->AddMeasurements(id, {measurement}).ok());
  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    return Succeed(Param(launch, "x"));
  });
  executor.AdoptOnResume({id});
  RunLimits limits(RunLimitsSpec{.max_running = 1});
  TrialRegistry registry;
  StudyControllerOptions options;
  options.registry = &registry;
  options.report_endpoint = "127.0.0.1:1";
  options.run_limits = &limits;
  RunStudy(
      study, executor,
      [&](StudyController&) {
        WaitFor([&] {
          return registry.Check(id, absl::StrCat("token-", id)).ok();
        });
        // The one slot is the adopted trial's: another study gets none, and
        // this study starts no second trial beside it.
        std::string waiting_for;
        EXPECT_FALSE(
            limits.TryAcquire(study.id() + 1, {}, &waiting_for).has_value());
        limits.Withdraw(study.id() + 1);
        EXPECT_THAT(waiting_for, ::testing::HasSubstr("--max-running-trials"));
        EXPECT_THAT(executor.launches(), ::testing::IsEmpty());
        executor.EndWorker(id, 0);
      },
      std::move(options));
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].state(), v1::Trial::SUCCEEDED);
  EXPECT_EQ(trials[1].state(), v1::Trial::SUCCEEDED);
  // Its slot went back when it ended: the second trial took it.
  ASSERT_EQ(executor.launches().size(), 1u);
  EXPECT_NE(executor.launches()[0].trial_id, id);
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

// Early stopping, through stdout `step=N` lines: trial k's accuracy at step
// s (1..9) is kValues[k] * s / 9. ASHA's rungs are 1 and 3 (max_step 9).
TEST_F(StudyControllerTest, AshaStopsTrialsFromStdoutStepsAtTheirRung) {
  // Worked by hand (rung 1 keeps max(1, n/3) of n trials, rung 3 likewise):
  // 1 alone goes on; 2 loses to 1 at rung 1; 3 leads; 4 is third of four at
  // rung 1; 5 leads; 6 is second of six at rung 1 (kept: 2) but second of
  // four at rung 3 (kept: 1).
  static const std::map<std::string, double> kValues = {
      {"1", 0.5}, {"2", 0.4}, {"3", 0.6}, {"4", 0.55}, {"5", 0.7}, {"6", 0.65}};
  v1::Study study = MakeStudy(
      Yaml("{max: 6}", "", "",
           "early_stopping: {name: asha, settings: {max_step: 9}}\n"));
  FakeExecutor executor(store_.get(), [](const TrialLaunch& launch, int) {
    const double value = kValues.at(launch.env.at("VERNIER_TRIAL_NUMBER"));
    Outcome outcome;
    for (int step = 1; step <= 9; ++step) {
      outcome.steps[step] = {{"accuracy", value * step / 9}};
    }
    return outcome;
  });
  v1::Study done = RunStudy(study, executor);
  EXPECT_EQ(done.state(), v1::Study::DONE);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 6u);
  const std::map<int, int64_t> stopped_at = {{2, 1}, {4, 1}, {6, 3}};
  for (const v1::Trial& trial : trials) {
    SCOPED_TRACE(trial.number());
    const double value = kValues.at(std::to_string(trial.number()));
    auto it = stopped_at.find(trial.number());
    if (it == stopped_at.end()) {
      EXPECT_EQ(trial.state(), v1::Trial::SUCCEEDED);
      EXPECT_DOUBLE_EQ(trial.objective(), value);
      EXPECT_FALSE(trial.has_early_stop());
      continue;
    }
    EXPECT_EQ(trial.state(), v1::Trial::STOPPED);
    EXPECT_EQ(trial.early_stop().rule(), "asha");
    EXPECT_EQ(trial.early_stop().step(), it->second);
    EXPECT_EQ(trial.early_stop().best_step(), it->second);
    EXPECT_DOUBLE_EQ(trial.objective(), value * it->second / 9);
    EXPECT_THAT(trial.state_message(),
                ::testing::StartsWith(absl::StrCat(
                    "stopped early by asha at step ", it->second, ": best")));
  }
  StudySummary summary = Summarize(study.spec().objective(), trials);
  EXPECT_EQ(summary.best->number(), 5);
  EXPECT_EQ(summary.stopped, 3);
  ASSERT_EQ(summary.early_stopped.size(), 3u);
  EXPECT_EQ(summary.early_stopped[2].number, 6);
  EXPECT_EQ(summary.early_stopped[2].step, 3);
}

// Through the report path: the report that triggers the rule already answers
// should_stop; the worker gets trials.stop_grace to exit by itself before the
// executor stops it; its slot then goes to a new trial.
TEST_F(StudyControllerTest, AReportedStopWaitsForTheGraceThenFreesTheSlot) {
  v1::Study study = MakeStudy(
      Yaml("{max: 3, parallel: 2, stop_grace: 1h}", "",
           ", metrics: {collector: push}",
           "early_stopping: {name: median, settings: {min_trials: 1}}\n"));
  FakeExecutor executor(store_.get(), [](const TrialLaunch&, int) {
    return Outcome{.hang = true};
  });
  TrialRegistry registry;
  absl::Mutex clock_mutex;
  absl::Time now = absl::Now();
  StudyControllerOptions options;
  options.registry = &registry;
  options.now = [&] {
    absl::MutexLock lock(&clock_mutex);
    return now;
  };
  auto report = [](StudyController& controller, int64_t trial_id,
                   double accuracy) {
    v1::Measurement measurement;
    measurement.set_step(1);
    (*measurement.mutable_metrics())["accuracy"] = accuracy;
    controller.OnMeasurementsReported(trial_id, {measurement});
  };
  RunStudy(
      study, executor,
      [&](StudyController& controller) {
        WaitFor([&] { return executor.running() == 2; });
        const std::vector<TrialLaunch> launches = executor.launches();
        const TrialLaunch& good = launches[0];
        const TrialLaunch& bad = launches[1];
        auto should_stop = [&](const TrialLaunch& launch) {
          return registry
              .Check(launch.trial_id, launch.env.at("VERNIER_TOKEN"))
              ->should_stop;
        };
        report(controller, good.trial_id, 0.9);
        report(controller, bad.trial_id, 0.1);
        EXPECT_FALSE(should_stop(good));
        EXPECT_TRUE(should_stop(bad));
        // Within the grace the worker runs on.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        EXPECT_EQ(executor.running(), 2);
        EXPECT_EQ(executor.launches().size(), 2u);
        {
          absl::MutexLock lock(&clock_mutex);
          now += absl::Hours(1) + absl::Seconds(1);
        }
        WaitFor([&] { return executor.launches().size() == 3; });
        controller.RequestStop();
      },
      options);
  std::vector<v1::Trial> trials = Trials(study);
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[0].state(), v1::Trial::PENDING);  // interrupted by the stop
  EXPECT_EQ(trials[1].state(), v1::Trial::STOPPED);
  EXPECT_EQ(trials[1].early_stop().rule(), "median");
  EXPECT_EQ(trials[1].early_stop().step(), 1);
  EXPECT_DOUBLE_EQ(trials[1].objective(), 0.1);
  EXPECT_EQ(trials[1].exit_signal(), 15);
  EXPECT_THAT(trials[1].state_message(),
              ::testing::HasSubstr("worse than the median 0.9 of 1"));
}

TEST_F(StudyControllerTest, AStoppedTrialIsTheBestOnlyWithCountStopped) {
  v1::ObjectiveSpec objective;
  objective.set_goal(v1::ObjectiveSpec::MAXIMIZE);
  std::vector<v1::Trial> trials(2);
  trials[0].set_number(1);
  trials[0].set_state(v1::Trial::SUCCEEDED);
  trials[0].set_objective(0.5);
  trials[1].set_number(2);
  trials[1].set_state(v1::Trial::STOPPED);
  trials[1].set_objective(0.8);
  trials[1].mutable_early_stop()->set_rule("median");
  trials[1].mutable_early_stop()->set_step(4);
  EXPECT_EQ(Summarize(objective, trials).best->number(), 1);
  objective.set_count_stopped(true);
  EXPECT_EQ(Summarize(objective, trials).best->number(), 2);
  // A trial the study's end stopped has no value to count.
  trials[1].clear_early_stop();
  trials[1].clear_objective();
  EXPECT_EQ(Summarize(objective, trials).best->number(), 1);
}

}  // namespace
}  // namespace vernier::controller
