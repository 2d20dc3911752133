#include "bench/ingest_fixture.h"

#include <pthread.h>

#include <filesystem>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "controller/study_yaml.h"
#include "server/client_channel.h"
#include "trial-runner/local/local_executor.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::bench {

namespace fs = std::filesystem;

// Trial id -> token of every launch. Thread-safe.
class TokenBook {
 public:
  void Record(int64_t trial_id, std::string token) {
    absl::MutexLock lock(&mutex_);
    tokens_[trial_id] = std::move(token);
  }

  // The first `n` trials launched, or DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<std::vector<BenchTrial>> Await(size_t n,
                                                absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mutex_) {
      return tokens_.size() >= n;
    };
    if (!mutex_.AwaitWithTimeout(absl::Condition(&enough), timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("only ", tokens_.size(), " of ", n, " trials launched"));
    }
    std::vector<BenchTrial> trials;
    for (const auto& [id, token] : tokens_) {
      if (trials.size() == n) break;
      trials.push_back({id, token});
    }
    return trials;
  }

 private:
  absl::Mutex mutex_;
  std::map<int64_t, std::string> tokens_ ABSL_GUARDED_BY(mutex_);
};

namespace {

// Names the calling thread; threads it starts from now on inherit the name.
// The store's writer and the manager's threads have no names of their own,
// so naming the thread that creates them is what tells them apart in the
// per-thread CPU figures.
void NameThisThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

// Forwards to the local executor, noting each launch's token on the way.
class RecordingExecutor final : public trial_runner::Executor {
 public:
  RecordingExecutor(std::unique_ptr<trial_runner::Executor> inner,
                    std::shared_ptr<TokenBook> tokens)
      : inner_(std::move(inner)), tokens_(std::move(tokens)) {}

  void Launch(trial_runner::TrialLaunch launch) override {
    const auto token = launch.env.find("VERNIER_TOKEN");
    if (token != launch.env.end())
      tokens_->Record(launch.trial_id, token->second);
    // Launch runs on the controller's loop thread and starts the worker's
    // watching thread, which takes the name given here.
    NameThisThread("executor");
    inner_->Launch(std::move(launch));
    NameThisThread("controller");
  }
  void Stop(int64_t trial_id) override { inner_->Stop(trial_id); }
  absl::Status Reclaim(const v1::Trial& trial) override {
    return inner_->Reclaim(trial);
  }
  void Shutdown() override { inner_->Shutdown(); }

 private:
  const std::unique_ptr<trial_runner::Executor> inner_;
  const std::shared_ptr<TokenBook> tokens_;
};

constexpr char kStudyName[] = "ingest-bench";

std::string StudyYaml(int trials) {
  return absl::StrCat(R"(
name: )",
                      kStudyName, R"(
objective: {metric: loss, goal: minimize}
parameters: [{name: lr, type: double, min: 0.0001, max: 0.1, scale: log}]
trials: {max: )",
                      trials, ", parallel: ", trials, R"(, stop_grace: 1s}
worker:
  command: ["sleep", "600"]
  metrics: {collector: push}
)");
}

// Calls GetTrial with the trial's token until it answers OK.
absl::Status AwaitReporting(const std::string& address,
                            const std::vector<BenchTrial>& trials,
                            absl::Duration timeout) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      server::MakeClientChannel({.address = address});
  if (!channel.ok()) return channel.status();
  std::unique_ptr<v1::TrialService::Stub> stub =
      v1::TrialService::NewStub(*channel);
  const absl::Time deadline = absl::Now() + timeout;
  for (const BenchTrial& trial : trials) {
    while (true) {
      grpc::ClientContext context;
      server::PrepareClientContext(&context, trial.token, absl::Seconds(5));
      v1::GetTrialRequest request;
      request.set_trial_id(trial.trial_id);
      v1::GetTrialResponse answer;
      const grpc::Status status = stub->GetTrial(&context, request, &answer);
      if (status.ok()) break;
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("trial ", trial.trial_id,
                         " does not accept reports: ", status.error_message()));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<IngestFixture>> IngestFixture::Start(
    const std::string& dir, int trials) {
  std::unique_ptr<IngestFixture> fixture(new IngestFixture());
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  fixture->db_path_ = (fs::path(dir) / "vernier.db").string();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::remove(fixture->db_path_ + suffix, error);
  }
  absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store =
      storage::SqliteStore::Open(fixture->db_path_);
  if (!store.ok()) return store.status();
  char main_name[16] = {};
  pthread_getname_np(pthread_self(), main_name, sizeof main_name);
  NameThisThread("manager");
  fixture->store_ = *std::move(store);

  fixture->tokens_ = std::make_shared<TokenBook>();
  fixture->manager_ = controller::StudyManager::Create(
      fixture->store_.get(),
      [tokens = fixture->tokens_](trial_runner::ExecutorEventSink sink) {
        return std::make_unique<RecordingExecutor>(
            trial_runner::NewLocalExecutor(std::move(sink)), tokens);
      },
      controller::StudyManagerOptions{
          .log_dir = (fs::path(dir) / "vernier-logs").string()});

  NameThisThread(main_name);
  server::GrpcServerOptions grpc_options;
  grpc_options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<server::GrpcServer>> server =
      server::GrpcServer::Start(grpc_options, fixture->manager_.get(),
                                fixture->store_.get());
  if (!server.ok()) return server.status();
  fixture->server_ = *std::move(server);
  fixture->manager_->SetReportEndpoint(fixture->server_->address());

  const std::string yaml = StudyYaml(trials);
  controller::LoadedStudy loaded = controller::LoadStudyYaml(yaml, dir);
  if (!loaded.errors.empty()) {
    return absl::InternalError(
        absl::StrCat("bench study: ", loaded.errors.front().ToString()));
  }
  NameThisThread("controller");
  absl::StatusOr<v1::Study> study =
      fixture->manager_->StartStudy(loaded.spec, yaml, false);
  NameThisThread(main_name);
  if (!study.ok()) return study.status();

  absl::StatusOr<std::vector<BenchTrial>> launched =
      fixture->tokens_->Await(static_cast<size_t>(trials), absl::Minutes(1));
  if (!launched.ok()) return launched.status();
  fixture->trials_ = *std::move(launched);
  if (absl::Status s = AwaitReporting(fixture->address(), fixture->trials_,
                                      absl::Minutes(1));
      !s.ok()) {
    return s;
  }
  return fixture;
}

IngestFixture::~IngestFixture() { Stop(); }

void IngestFixture::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (manager_ != nullptr) {
    absl::StatusOr<v1::Study> stopped = manager_->StopStudy(kStudyName);
    if (stopped.ok()) (void)manager_->WaitForStudy(kStudyName);
  }
  if (server_ != nullptr) server_->Shutdown(absl::Seconds(5));
  if (manager_ != nullptr) manager_->Shutdown();
}

}  // namespace vernier::bench
