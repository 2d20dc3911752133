#include "controller/study_manager.h"

#include <filesystem>
#include <future>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "controller/study_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite_store.h"

namespace vernier::controller {
namespace {

using ::testing::HasSubstr;
using trial_runner::ExecutorEvent;
using trial_runner::TrialLaunch;
using trial_runner::WorkerExited;
using trial_runner::WorkerStarted;

// Workers that start and then wait for the test to end them; the test plays
// the training code through the manager's reporting calls.
class HeldExecutor final : public trial_runner::Executor {
 public:
  explicit HeldExecutor(trial_runner::ExecutorEventSink sink)
      : sink_(std::move(sink)) {}

  void Launch(TrialLaunch launch) override {
    {
      absl::MutexLock lock(&mutex_);
      launches_.push_back(launch);
    }
    sink_(WorkerStarted{launch.trial_id, {}});
  }
  void Stop(int64_t trial_id) override {
    Exit(trial_id, WorkerExited{.exit_signal = 15, .stopped = true});
  }
  absl::Status Reclaim(const v1::Trial&) override { return absl::OkStatus(); }
  void Shutdown() override {}

  void Exit(int64_t trial_id, WorkerExited exited) {
    {
      absl::MutexLock lock(&mutex_);
      if (!exited_.insert(trial_id).second) return;
    }
    exited.trial_id = trial_id;
    sink_(exited);
  }

  // Waits for the n-th launch (0-based).
  TrialLaunch WaitForLaunch(size_t n) {
    absl::MutexLock lock(&mutex_);
    auto launched = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mutex_) {
      return launches_.size() > n;
    };
    mutex_.Await(absl::Condition(&launched));
    return launches_[n];
  }

 private:
  trial_runner::ExecutorEventSink sink_;
  absl::Mutex mutex_;
  std::vector<TrialLaunch> launches_ ABSL_GUARDED_BY(mutex_);
  std::set<int64_t> exited_ ABSL_GUARDED_BY(mutex_);
};

template <typename T>
T Await(std::function<void(std::function<void(T)>)> call) {
  std::promise<T> promise;
  call([&promise](T value) { promise.set_value(std::move(value)); });
  return promise.get_future().get();
}

class StudyManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vernier-manager-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = *storage::OpenSqliteStore((dir_ / "vernier.db").string());
    manager_ = StudyManager::Create(
        store_.get(),
        [this](trial_runner::ExecutorEventSink sink) {
          auto executor = std::make_unique<HeldExecutor>(std::move(sink));
          executor_ = executor.get();
          return executor;
        },
        StudyManagerOptions{.log_dir = (dir_ / "logs").string()});
    manager_->SetReportEndpoint("127.0.0.1:1");
  }
  void TearDown() override {
    manager_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  v1::Study Start(const std::string& yaml) {
    LoadedStudy loaded = LoadStudyYaml(yaml, dir_.string());
    EXPECT_TRUE(loaded.errors.empty()) << loaded.errors.front().ToString();
    auto study = manager_->StartStudy(loaded.spec, yaml, false);
    EXPECT_TRUE(study.ok()) << study.status();
    return *study;
  }

  absl::StatusOr<bool> Report(int64_t trial_id, const std::string& token,
                              int64_t step, double loss) {
    v1::Measurement measurement;
    measurement.set_step(step);
    (*measurement.mutable_metrics())["loss"] = loss;
    return Await<absl::StatusOr<bool>>([&](auto done) {
      manager_->ReportMeasurements(trial_id, token, {measurement}, done);
    });
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::Store> store_;
  HeldExecutor* executor_ = nullptr;
  std::unique_ptr<StudyManager> manager_;
};

constexpr char kWorkerStudy[] = R"(
name: pushed
objective: {metric: loss, goal: minimize}
parameters: [{name: x, type: double, min: 0, max: 1}]
trials: {max: 2, parallel: 2}
worker: {command: ["train"], metrics: {collector: push}}
)";

TEST_F(StudyManagerTest, WorkersReportWithTheirOwnTokensOnly) {
  Start(kWorkerStudy);
  TrialLaunch first = executor_->WaitForLaunch(0);
  TrialLaunch second = executor_->WaitForLaunch(1);
  const std::string token = first.env.at("VERNIER_TOKEN");
  EXPECT_EQ(first.env.at("VERNIER_ENDPOINT"), "127.0.0.1:1");
  EXPECT_EQ(token.size(), 64u);
  EXPECT_NE(token, second.env.at("VERNIER_TOKEN"));

  absl::StatusOr<bool> ok = Report(first.trial_id, token, 1, 0.5);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(*ok);
  // Another trial's token, no token, an unknown trial: refused, nothing kept.
  EXPECT_EQ(Report(second.trial_id, token, 1, 0.1).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Report(first.trial_id, "", 2, 0.1).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Report(987654, token, 1, 0.1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListMeasurements(first.trial_id)->size(), 1u);
  EXPECT_TRUE(store_->ListMeasurements(second.trial_id)->empty());

  // A retried report of the same step is idempotent.
  ASSERT_TRUE(Report(first.trial_id, token, 1, 0.5).ok());
  EXPECT_EQ(store_->ListMeasurements(first.trial_id)->size(), 1u);

  // Final metrics, then the worker exits: the trial succeeds with them.
  absl::Status finished = Await<absl::Status>([&](auto done) {
    manager_->FinishTrial(first.trial_id, token, {{"loss", 0.25}}, done);
  });
  ASSERT_TRUE(finished.ok()) << finished;
  executor_->Exit(first.trial_id, WorkerExited{.exit_code = 0});
  // The last intermediate value counts when no final value comes.
  ASSERT_TRUE(
      Report(second.trial_id, second.env.at("VERNIER_TOKEN"), 3, 0.75).ok());
  executor_->Exit(second.trial_id, WorkerExited{.exit_code = 0});

  absl::StatusOr<v1::Study> done = manager_->WaitForStudy("pushed");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::Study::DONE);
  std::vector<v1::Trial> trials = *store_->ListTrials(done->id());
  EXPECT_DOUBLE_EQ(trials[0].objective(), 0.25);
  EXPECT_DOUBLE_EQ(trials[1].objective(), 0.75);
  // A finished trial's token no longer reports.
  EXPECT_EQ(Report(first.trial_id, token, 9, 0.1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StudyManagerTest, WorkersGetTheirTrialWithTheStudysParameterSpecs) {
  Start(R"(
name: typed
objective: {metric: loss, goal: minimize}
parameters:
  - {name: lr, type: double, min: 0.001, max: 1, scale: log}
  - {name: batch, type: int, min: 16, max: 256}
  - {name: kernel, type: categorical, values: [rbf, poly]}
trials: {max: 1}
worker: {command: ["train"], metrics: {collector: push}}
)");
  TrialLaunch launch = executor_->WaitForLaunch(0);
  const std::string token = launch.env.at("VERNIER_TOKEN");

  absl::StatusOr<WorkerTrial> got =
      manager_->GetTrialForWorker(launch.trial_id, token);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->trial.id(), launch.trial_id);
  EXPECT_EQ(got->trial.parameters().size(), 3);
  ASSERT_EQ(got->parameters.size(), 3u);
  EXPECT_EQ(got->parameters[0].name(), "lr");
  EXPECT_EQ(got->parameters[0].type(), v1::ParameterSpec::DOUBLE);
  EXPECT_EQ(got->parameters[1].name(), "batch");
  EXPECT_EQ(got->parameters[1].type(), v1::ParameterSpec::INT);
  EXPECT_EQ(got->parameters[2].type(), v1::ParameterSpec::CATEGORICAL);

  EXPECT_EQ(
      manager_->GetTrialForWorker(launch.trial_id, "guess").status().code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->GetTrialForWorker(987654, token).status().code(),
            absl::StatusCode::kNotFound);
  executor_->Exit(launch.trial_id, WorkerExited{.exit_code = 0});
}

TEST_F(StudyManagerTest, StoppingAStudyAnswersShouldStopAndEndsIt) {
  Start(kWorkerStudy);
  TrialLaunch first = executor_->WaitForLaunch(0);
  std::thread stopper([&] {
    absl::StatusOr<v1::Study> stopped = manager_->StopStudy("pushed");
    ASSERT_TRUE(stopped.ok());
    EXPECT_EQ(stopped->state(), v1::Study::STOPPED);
  });
  stopper.join();
  // Its workers were stopped; their trials wait for a resume.
  const std::vector<v1::Trial> trials = store_->ListTrials(1).value();
  ASSERT_FALSE(trials.empty());
  for (const v1::Trial& trial : trials) {
    EXPECT_EQ(trial.state(), v1::Trial::PENDING);
  }
}

constexpr char kAskTellStudy[] = R"(
name: asked
objective: {metric: loss, goal: minimize}
algorithm: {name: random, seed: 5}
parameters: [{name: x, type: double, min: 0, max: 1}]
trials: {max: 5}
worker: {kind: none}
)";

TEST_F(StudyManagerTest, AskTellHandsBackUnfinishedTrialsToTheSameClient) {
  Start(kAskTellStudy);
  auto suggest = [&](int count, const std::string& client) {
    return Await<absl::StatusOr<std::vector<v1::Trial>>>([&](auto done) {
      manager_->SuggestTrials("asked", count, client, done);
    });
  };
  auto complete = [&](int64_t id, std::map<std::string, double> metrics,
                      bool infeasible) {
    return Await<absl::StatusOr<v1::Trial>>([&](auto done) {
      manager_->CompleteTrial("asked", id, metrics, infeasible, "", done);
    });
  };

  auto first = suggest(2, "a");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 2u);
  auto again = suggest(2, "a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].id(), (*first)[0].id());
  EXPECT_EQ((*again)[1].id(), (*first)[1].id());
  auto other = suggest(2, "b");
  ASSERT_EQ(other->size(), 2u);
  EXPECT_NE((*other)[0].id(), (*first)[0].id());

  auto done = complete((*first)[0].id(), {{"loss", 0.5}}, false);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::Trial::SUCCEEDED);
  EXPECT_EQ(complete((*first)[0].id(), {{"loss", 0.4}}, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(complete((*first)[1].id(), {{"other", 1}}, false).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto infeasible = complete((*first)[1].id(), {}, true);
  ASSERT_TRUE(infeasible.ok());
  EXPECT_EQ(infeasible->state(), v1::Trial::INFEASIBLE);

  // 4 of 5 handed out: only one more to give.
  auto last = suggest(3, "a");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->size(), 1u);
  for (const v1::Trial& trial : *other)
    ASSERT_TRUE(complete(trial.id(), {{"loss", 1}}, false).ok());
  ASSERT_TRUE(complete((*last)[0].id(), {{"loss", NAN}}, false).ok());
  absl::StatusOr<v1::Study> study = manager_->WaitForStudy("asked");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->state(), v1::Study::DONE);
  EXPECT_EQ(suggest(1, "a").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StudyManagerTest, AskTellIsRefusedForStudiesWithWorkers) {
  Start(kWorkerStudy);
  auto result = Await<absl::StatusOr<std::vector<v1::Trial>>>(
      [&](auto done) { manager_->SuggestTrials("pushed", 1, "a", done); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("worker.kind none"));
}

TEST_F(StudyManagerTest, ReportsForARunningTrialNotYetResumedAreRetryable) {
  // As a restarted server holds it before it resumes the study: a trial
  // recorded RUNNING whose worker (say an adopted pod) reports early.
  LoadedStudy loaded = LoadStudyYaml(kWorkerStudy, dir_.string());
  absl::StatusOr<v1::Study> study =
      CreateOrResumeStudy(store_.get(), loaded.spec, kWorkerStudy);
  ASSERT_TRUE(study.ok()) << study.status();
  v1::Trial running;
  running.set_study_id(study->id());
  running.set_number(1);
  (*running.mutable_parameters())["x"].set_number_value(0.5);
  running.set_state(v1::Trial::RUNNING);
  auto created = store_->CreateTrials({running});
  ASSERT_TRUE(created.ok());
  absl::StatusOr<bool> early = Report(created->front().id(), "token", 1, 0.5);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(early.status().message(), HasSubstr("try again"));
  EXPECT_TRUE(store_->ListMeasurements(created->front().id())->empty());
}

TEST_F(StudyManagerTest, ReportsForAnAskTellTrialAreRefused) {
  Start(kAskTellStudy);
  auto trials = Await<absl::StatusOr<std::vector<v1::Trial>>>(
      [&](auto done) { manager_->SuggestTrials("asked", 1, "a", done); });
  ASSERT_TRUE(trials.ok()) << trials.status();
  absl::StatusOr<bool> report = Report(trials->front().id(), "token", 1, 0.5);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(), HasSubstr("CompleteTrial"));
  EXPECT_TRUE(store_->ListMeasurements(trials->front().id())->empty());
}

}  // namespace
}  // namespace vernier::controller
