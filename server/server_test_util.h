// Test support for the server module: a StudyManager fake backed by a real
// Store, and a fixture that serves it on 127.0.0.1:0.
#ifndef VERNIER_SERVER_SERVER_TEST_UTIL_H_
#define VERNIER_SERVER_SERVER_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "controller/study_manager.h"
#include "gtest/gtest.h"
#include "server/client_channel.h"
#include "server/grpc_server.h"
#include "storage/sqlite_store.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::server::testing {

// Does what the real manager promises at the level a client sees, straight
// on the Store: studies stored ACTIVE, ask/tell trials created and completed,
// trial tokens checked, measurements stored. Answers `done` callbacks from a
// thread of its own, as the real one does. Thread-safe: every method may be
// called from any thread; mutex_ guards the tokens and the threads.
class FakeStudyManager final : public controller::StudyManager {
 public:
  // A report at this step or later answers should_stop.
  static constexpr int64_t kStopStep = 100;

  explicit FakeStudyManager(storage::Store* store) : store_(store) {}
  ~FakeStudyManager() override { Shutdown(); }

  // Trial `trial_id` accepts reports carrying `token`.
  void SetTrialToken(int64_t trial_id, std::string token) {
    absl::MutexLock lock(&mutex_);
    tokens_[trial_id] = std::move(token);
  }

  void SetReportEndpoint(std::string) override {}
  absl::Status ResumeActiveStudies() override { return absl::OkStatus(); }

  absl::StatusOr<v1::Study> StartStudy(const v1::StudySpec& spec,
                                       const std::string& yaml_text,
                                       bool resume_existing) override {
    if (resume_existing) {
      absl::StatusOr<v1::Study> existing = store_->FindStudy(spec.name());
      if (existing.ok()) return existing;
    }
    v1::Study study;
    study.set_name(spec.name());
    *study.mutable_spec() = spec;
    study.set_yaml(yaml_text);
    study.set_state(v1::Study::ACTIVE);
    return store_->CreateStudy(std::move(study));
  }

  void StopTrial(int64_t, std::function<void(absl::Status)> done) override {
    done(absl::UnimplementedError("the fake manager stops no trial"));
  }

  absl::StatusOr<v1::Study> StopStudy(absl::string_view name) override {
    absl::StatusOr<v1::Study> study = store_->FindStudy(name);
    if (!study.ok() || study->state() != v1::Study::ACTIVE) return study;
    study->set_state(v1::Study::STOPPED);
    study->set_end_reason(v1::Study::USER_STOPPED);
    if (absl::Status s = store_->UpdateStudy(*study); !s.ok()) return s;
    return study;
  }

  absl::StatusOr<v1::Study> WaitForStudy(absl::string_view) override {
    return absl::UnimplementedError("not in the fake");
  }

  absl::StatusOr<controller::WorkerTrial> GetTrialForWorker(
      int64_t trial_id, absl::string_view token) override {
    if (absl::Status s = CheckToken(trial_id, token); !s.ok()) return s;
    absl::StatusOr<v1::Trial> trial = store_->GetTrial(trial_id);
    if (!trial.ok()) return trial.status();
    absl::StatusOr<v1::Study> study = store_->GetStudy(trial->study_id());
    if (!study.ok()) return study.status();
    controller::WorkerTrial answer{.trial = *std::move(trial)};
    answer.parameters.assign(study->spec().parameters().begin(),
                             study->spec().parameters().end());
    return answer;
  }

  void ReportMeasurements(
      int64_t trial_id, absl::string_view token,
      std::vector<v1::Measurement> measurements,
      std::function<void(absl::StatusOr<bool>)> done) override {
    absl::Status status = CheckToken(trial_id, token);
    bool should_stop = false;
    for (const v1::Measurement& measurement : measurements) {
      should_stop = should_stop || measurement.step() >= kStopStep;
    }
    if (status.ok()) status = store_->AddMeasurements(trial_id, measurements);
    Later([status, should_stop, done = std::move(done)] {
      if (status.ok()) {
        done(should_stop);
      } else {
        done(status);
      }
    });
  }

  void FinishTrial(int64_t trial_id, absl::string_view token,
                   std::map<std::string, double> metrics,
                   std::function<void(absl::Status)> done) override {
    absl::Status status = CheckToken(trial_id, token);
    if (status.ok()) {
      status = EndTrial(trial_id, metrics, false, "").status();
    }
    Later([status, done = std::move(done)] { done(status); });
  }

  void SuggestTrials(absl::string_view study_name, int count,
                     const std::string& client_id,
                     std::function<void(absl::StatusOr<std::vector<v1::Trial>>)>
                         done) override {
    absl::StatusOr<std::vector<v1::Trial>> trials =
        NewTrials(study_name, count, client_id);
    Later([trials = std::move(trials), done = std::move(done)] {
      done(std::move(trials));
    });
  }

  void CompleteTrial(
      absl::string_view /*study*/, int64_t trial_id,
      std::map<std::string, double> metrics, bool infeasible,
      const std::string& infeasible_reason,
      std::function<void(absl::StatusOr<v1::Trial>)> done) override {
    absl::StatusOr<v1::Trial> trial =
        EndTrial(trial_id, metrics, infeasible, infeasible_reason);
    Later([trial = std::move(trial), done = std::move(done)] {
      done(std::move(trial));
    });
  }

  void Shutdown() override {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mutex_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
  }

 private:
  absl::Status CheckToken(int64_t trial_id, absl::string_view token) {
    absl::MutexLock lock(&mutex_);
    const auto it = tokens_.find(trial_id);
    if (it == tokens_.end()) {
      return absl::NotFoundError(absl::StrCat("no trial ", trial_id));
    }
    if (it->second != token) {
      return absl::PermissionDeniedError("wrong trial token");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<v1::Trial>> NewTrials(
      absl::string_view study_name, int count, const std::string& client_id) {
    absl::StatusOr<v1::Study> study = store_->FindStudy(study_name);
    if (!study.ok()) return study.status();
    absl::StatusOr<std::vector<v1::Trial>> existing =
        store_->ListTrials(study->id());
    if (!existing.ok()) return existing.status();
    std::vector<v1::Trial> trials;
    for (int i = 0; i < count; ++i) {
      v1::Trial& trial = trials.emplace_back();
      trial.set_study_id(study->id());
      trial.set_number(static_cast<int>(existing->size()) + i + 1);
      trial.set_state(v1::Trial::RUNNING);
      trial.set_client_id(client_id);
      (*trial.mutable_parameters())["x"].set_number_value(0.25 * (i + 1));
    }
    return store_->CreateTrials(std::move(trials));
  }

  absl::StatusOr<v1::Trial> EndTrial(
      int64_t trial_id, const std::map<std::string, double>& metrics,
      bool infeasible, const std::string& reason) {
    absl::StatusOr<v1::Trial> trial = store_->GetTrial(trial_id);
    if (!trial.ok()) return trial.status();
    if (trial->state() != v1::Trial::RUNNING &&
        trial->state() != v1::Trial::PENDING) {
      return absl::FailedPreconditionError(
          absl::StrCat("trial ", trial_id, " has already ended"));
    }
    trial->set_state(infeasible ? v1::Trial::INFEASIBLE : v1::Trial::SUCCEEDED);
    trial->set_state_message(reason);
    for (const auto& [name, value] : metrics) {
      (*trial->mutable_final_metrics())[name] = value;
    }
    if (absl::Status s = store_->UpdateTrial(*trial); !s.ok()) return s;
    return trial;
  }

  void Later(std::function<void()> work) {
    absl::MutexLock lock(&mutex_);
    threads_.emplace_back(std::move(work));
  }

  storage::Store* const store_;
  absl::Mutex mutex_;
  std::map<int64_t, std::string> tokens_ ABSL_GUARDED_BY(mutex_);
  // The threads that answer `done` callbacks; joined by Shutdown.
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mutex_);
};

// A temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "vernier-server-XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A real SqliteStore in a temporary folder, the fake manager over it, and a
// GrpcServer on 127.0.0.1:0 serving both.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store =
        storage::SqliteStore::Open(dir_.path() + "/vernier.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    manager_ = std::make_unique<FakeStudyManager>(store_.get());
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(5));
    server_.reset();
    manager_.reset();
  }

  // Starts the server; `options.address` defaults to a free loopback port.
  void StartServer(GrpcServerOptions options = {}) {
    if (options.address == GrpcServerOptions().address) {
      options.address = "127.0.0.1:0";
    }
    absl::StatusOr<std::unique_ptr<GrpcServer>> server =
        GrpcServer::Start(options, manager_.get(), store_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::shared_ptr<grpc::Channel> Channel(ClientChannelOptions options = {}) {
    if (options.address.empty()) options.address = server_->address();
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        MakeClientChannel(options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  std::unique_ptr<v1::StudyService::Stub> StudyStub() {
    return v1::StudyService::NewStub(Channel());
  }
  std::unique_ptr<v1::TrialService::Stub> TrialStub() {
    return v1::TrialService::NewStub(Channel());
  }

  // A context for one call carrying `token` (none when empty).
  static std::unique_ptr<grpc::ClientContext> Context(
      absl::string_view token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    PrepareClientContext(context.get(), token, absl::Seconds(20));
    return context;
  }

  TempDir dir_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<FakeStudyManager> manager_;
  std::unique_ptr<GrpcServer> server_;
};

}  // namespace vernier::server::testing

#endif  // VERNIER_SERVER_SERVER_TEST_UTIL_H_
