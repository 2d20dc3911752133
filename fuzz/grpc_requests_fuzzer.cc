// Fuzz target: every gRPC request handler of vernier.v1 (StudyService and
// TrialService), reached as a client reaches them: the bytes go over a real
// loopback call to a real GrpcServer, gRPC parses them as the method's
// request message, and the handler checks them and hands them to a real
// StudyManager over a real SQLite store in a temporary folder.
//
// Input: byte 0 picks the method (kMethods), byte 1 the credentials the call
// carries (none, the admin token, the token of the trial the request names,
// a wrong token), the rest is the request's wire bytes.
//
// The server holds two studies: "fuzz-local", whose workers are never really
// started (HeldExecutor records their tokens and reports them running, so
// TrialService calls reach live trials), and "fuzz-asktell", an ask/tell
// study with two suggested trials. Studies that CreateStudy accepts start
// too, with the same held workers, so no input can run a command.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "controller/study_manager.h"
#include "controller/study_yaml.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/client_channel.h"
#include "server/grpc_server.h"
#include "storage/sqlite_store.h"
#include "trial-runner/executor.h"
#include "vernier/v1/service.pb.h"

namespace vernier::fuzz {
namespace {

constexpr char kAdminToken[] = "fuzz-admin-token";

struct Method {
  const char* path;
  // Parses a request of this method and returns the trial it names; 0 for
  // StudyService methods or bytes that do not parse.
  int64_t (*trial_id)(const std::string& bytes);
};

template <typename Request>
int64_t TrialIdOf(const std::string& bytes) {
  Request request;
  return request.ParseFromString(bytes) ? request.trial_id() : 0;
}

int64_t NoTrial(const std::string&) { return 0; }

constexpr Method kMethods[] = {
    {"/vernier.v1.StudyService/CreateStudy", NoTrial},
    {"/vernier.v1.StudyService/GetStudy", NoTrial},
    {"/vernier.v1.StudyService/ListStudies", NoTrial},
    {"/vernier.v1.StudyService/StopStudy", NoTrial},
    {"/vernier.v1.StudyService/ListTrials", NoTrial},
    {"/vernier.v1.StudyService/SuggestTrials", NoTrial},
    {"/vernier.v1.StudyService/CompleteTrial", TrialIdOf<v1::CompleteTrialRequest>},
    {"/vernier.v1.TrialService/GetTrial", TrialIdOf<v1::GetTrialRequest>},
    {"/vernier.v1.TrialService/ReportMeasurement",
     TrialIdOf<v1::ReportMeasurementRequest>},
    {"/vernier.v1.TrialService/FinishTrial", TrialIdOf<v1::FinishTrialRequest>},
};
constexpr size_t kMethodCount = sizeof(kMethods) / sizeof(kMethods[0]);

// The tokens of the trials launched so far. Thread-safe.
class TokenBook {
 public:
  void Record(int64_t trial_id, std::string token) {
    absl::MutexLock lock(&mu_);
    tokens_[trial_id] = std::move(token);
  }
  // The token of `trial_id`, else of the latest trial, else empty.
  std::string For(int64_t trial_id) {
    absl::MutexLock lock(&mu_);
    const auto it = tokens_.find(trial_id);
    if (it != tokens_.end()) return it->second;
    return tokens_.empty() ? "" : tokens_.rbegin()->second;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return tokens_.size();
  }

 private:
  absl::Mutex mu_;
  std::map<int64_t, std::string> tokens_ ABSL_GUARDED_BY(mu_);
};

// Reports every launched worker as running, and stopped when asked; starts
// nothing. Thread-safe.
class HeldExecutor final : public trial_runner::Executor {
 public:
  HeldExecutor(trial_runner::ExecutorEventSink sink, TokenBook* tokens)
      : sink_(std::move(sink)), tokens_(tokens) {}

  void Launch(trial_runner::TrialLaunch launch) override {
    tokens_->Record(launch.trial_id, launch.env["VERNIER_TOKEN"]);
    {
      absl::MutexLock lock(&mu_);
      running_.insert(launch.trial_id);
    }
    sink_(trial_runner::WorkerStarted{.trial_id = launch.trial_id});
  }

  void Stop(int64_t trial_id) override {
    {
      absl::MutexLock lock(&mu_);
      if (running_.erase(trial_id) == 0) return;
    }
    sink_(trial_runner::WorkerExited{.trial_id = trial_id, .stopped = true});
  }

  absl::Status Reclaim(const v1::Trial&) override { return absl::OkStatus(); }

  void Shutdown() override {
    std::set<int64_t> running;
    {
      absl::MutexLock lock(&mu_);
      running.swap(running_);
    }
    for (int64_t trial_id : running) {
      sink_(trial_runner::WorkerExited{.trial_id = trial_id, .stopped = true});
    }
  }

 private:
  const trial_runner::ExecutorEventSink sink_;
  TokenBook* const tokens_;
  absl::Mutex mu_;
  std::set<int64_t> running_ ABSL_GUARDED_BY(mu_);
};

constexpr char kLocalStudy[] = R"(
name: fuzz-local
objective: {metric: loss, goal: minimize}
parameters:
  - {name: lr, type: double, min: 0.0001, max: 1, scale: log}
  - {name: depth, type: int, min: 1, max: 8}
trials: {max: 100000, parallel: 2}
worker:
  command: ["/bin/false", "--lr=${params.lr}"]
  metrics: {collector: push}
)";

constexpr char kAskTellStudy[] = R"(
name: fuzz-asktell
objective: {metric: loss, goal: minimize}
parameters:
  - {name: x, type: double, min: -5, max: 5}
  - {name: kind, type: categorical, values: [a, b]}
trials: {max: 100000}
worker: {kind: none}
)";

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "grpc_requests_fuzzer setup: %s\n", what.c_str());
  std::abort();
}

// Everything the calls go to; made once per process, shut down at exit.
class Server {
 public:
  Server() {
    std::string pattern = "/tmp/vernier-fuzz-grpc-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp");
    dir_ = pattern;
    absl::StatusOr<std::unique_ptr<storage::SqliteStore>> store =
        storage::SqliteStore::Open(dir_ + "/vernier.db");
    if (!store.ok()) Fail(store.status().ToString());
    store_ = *std::move(store);
    controller::StudyManagerOptions options;
    options.log_dir = dir_ + "/logs";
    options.gpus = std::vector<std::string>();
    manager_ = controller::StudyManager::Create(
        store_.get(),
        [this](trial_runner::ExecutorEventSink sink) {
          return std::make_unique<HeldExecutor>(std::move(sink), &tokens_);
        },
        std::move(options));
    server::GrpcServerOptions grpc_options;
    grpc_options.address = "127.0.0.1:0";
    grpc_options.admin_token = kAdminToken;
    absl::StatusOr<std::unique_ptr<server::GrpcServer>> grpc =
        server::GrpcServer::Start(grpc_options, manager_.get(), store_.get());
    if (!grpc.ok()) Fail(grpc.status().ToString());
    grpc_ = *std::move(grpc);
    manager_->SetReportEndpoint(grpc_->address());
    for (const char* yaml : {kLocalStudy, kAskTellStudy}) {
      controller::LoadedStudy loaded = controller::LoadStudyYaml(yaml, dir_);
      if (!loaded.errors.empty()) Fail(loaded.errors.front().ToString());
      absl::StatusOr<v1::Study> study =
          manager_->StartStudy(loaded.spec, yaml, /*resume_existing=*/false);
      if (!study.ok()) Fail(study.status().ToString());
    }
    absl::Notification suggested;
    manager_->SuggestTrials("fuzz-asktell", 2, "fuzz-client",
                            [&](auto) { suggested.Notify(); });
    suggested.WaitForNotification();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (tokens_.size() < 2) {
      if (absl::Now() > deadline) Fail("fuzz-local launched no trials");
      absl::SleepFor(absl::Milliseconds(10));
    }
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        server::MakeClientChannel({.address = grpc_->address()});
    if (!channel.ok()) Fail(channel.status().ToString());
    stub_ = std::make_unique<grpc::GenericStub>(*channel);
  }

  void Shutdown() {
    grpc_->Shutdown(absl::Seconds(1));
    manager_->Shutdown();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void Call(const Method& method, uint8_t credentials,
            const std::string& payload) {
    grpc::ClientContext context;
    std::string token;
    switch (credentials % 4) {
      case 0: break;
      case 1: token = kAdminToken; break;
      case 2: token = tokens_.For(method.trial_id(payload)); break;
      case 3: token = "not-a-token"; break;
    }
    server::PrepareClientContext(&context, token, absl::Seconds(20));
    grpc::Slice slice(payload.data(), payload.size());
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    absl::Notification done;
    stub_->UnaryCall(&context, method.path, grpc::StubOptions(), &request,
                     &response, [&](grpc::Status) { done.Notify(); });
    done.WaitForNotification();
  }

 private:
  std::string dir_;
  TokenBook tokens_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<controller::StudyManager> manager_;
  std::unique_ptr<server::GrpcServer> grpc_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

Server& TheServer() {
  // Never destroyed: gRPC's own globals may go first at exit. Shut down by
  // atexit instead, so that the SQLite file and the threads end cleanly.
  static Server* server = [] {
    auto* made = new Server();
    std::atexit([] { TheServer().Shutdown(); });
    return made;
  }();
  return *server;
}

}  // namespace
}  // namespace vernier::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const vernier::fuzz::Method& method =
      vernier::fuzz::kMethods[data[0] % vernier::fuzz::kMethodCount];
  vernier::fuzz::TheServer().Call(
      method, data[1], std::string(reinterpret_cast<const char*>(data + 2),
                                   size - 2));
  return 0;
}
