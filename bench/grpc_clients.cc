#include "bench/grpc_clients.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/client_channel.h"
#include "server/status.h"

extern char** environ;

namespace vernier::bench {
namespace {

constexpr const char* kMetricNames[] = {"loss",      "accuracy", "lr",
                                        "grad_norm", "epoch",    "throughput",
                                        "val_loss",  "val_acc"};

absl::Status WritePlan(const ClientProcessPlan& plan, const std::string& path) {
  std::ofstream out(path);
  out << "address " << plan.address << "\n"
      << "channels " << plan.channels << "\n"
      << "metrics " << plan.metrics << "\n"
      << "stream " << (plan.rpc == ReportRpc::kStream ? 1 : 0) << "\n"
      << "inflight " << plan.load.inflight << "\n"
      << "batch " << plan.load.batch << "\n"
      << "warmup_us " << absl::ToInt64Microseconds(plan.load.warmup) << "\n"
      << "measure_us " << absl::ToInt64Microseconds(plan.load.measure) << "\n";
  for (const BenchTrial& trial : plan.trials) {
    out << "trial " << trial.trial_id << " " << trial.token << "\n";
  }
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<ClientProcessPlan> ReadPlan(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  ClientProcessPlan plan;
  std::string key;
  while (in >> key) {
    int64_t us = 0;
    if (key == "address") {
      in >> plan.address;
    } else if (key == "channels") {
      in >> plan.channels;
    } else if (key == "metrics") {
      in >> plan.metrics;
    } else if (key == "stream") {
      int stream = 0;
      in >> stream;
      plan.rpc = stream != 0 ? ReportRpc::kStream : ReportRpc::kUnary;
    } else if (key == "inflight") {
      in >> plan.load.inflight;
    } else if (key == "batch") {
      in >> plan.load.batch;
    } else if (key == "warmup_us") {
      in >> us;
      plan.load.warmup = absl::Microseconds(us);
    } else if (key == "measure_us") {
      in >> us;
      plan.load.measure = absl::Microseconds(us);
    } else if (key == "trial") {
      BenchTrial trial;
      in >> trial.trial_id >> trial.token;
      plan.trials.push_back(std::move(trial));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unknown key ", key));
    }
  }
  plan.load.clients = static_cast<int>(plan.trials.size());
  return plan;
}

// The result file: one record per line, "key values...".
absl::Status WriteResult(const LoadResult& result, const std::string& path) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  std::fprintf(out, "window_acked %ld\nhung %d\nprocess_cpu %.6f\n",
               static_cast<long>(result.window_acked), result.hung ? 1 : 0,
               result.cpu.process_seconds);
  for (const auto& [name, cpu] : result.cpu.by_thread) {
    std::fprintf(out, "cpu %d %.6f %.6f %s\n", cpu.threads, cpu.run_seconds,
                 cpu.wait_seconds, name.c_str());
  }
  for (const auto& [code, count] : result.failures) {
    std::string example = result.failure_examples.at(code);
    for (char& c : example) {
      if (c == '\n') c = ' ';
    }
    std::fprintf(out, "failure %s %ld %s\n", code.c_str(),
                 static_cast<long>(count), example.c_str());
  }
  std::fprintf(out, "latencies %zu", result.window_latencies_us.size());
  for (int64_t us : result.window_latencies_us) {
    std::fprintf(out, " %ld", static_cast<long>(us));
  }
  std::fprintf(out, "\n");
  for (size_t i = 0; i < result.acked_steps.size(); ++i) {
    std::fprintf(out, "acked %zu %zu", i, result.acked_steps[i].size());
    for (int64_t step : result.acked_steps[i]) {
      std::fprintf(out, " %ld", static_cast<long>(step));
    }
    std::fprintf(out, "\n");
  }
  const bool ok = std::fclose(out) == 0;
  return ok ? absl::OkStatus()
            : absl::UnavailableError(absl::StrCat("cannot write ", path));
}

absl::StatusOr<LoadResult> ReadResult(const std::string& path, int clients,
                                      absl::Duration window) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  LoadResult result;
  result.window = window;
  result.acked_steps.resize(static_cast<size_t>(clients));
  std::string key;
  while (in >> key) {
    if (key == "window_acked") {
      in >> result.window_acked;
    } else if (key == "hung") {
      in >> result.hung;
    } else if (key == "process_cpu") {
      in >> result.cpu.process_seconds;
    } else if (key == "cpu") {
      ThreadCpu cpu;
      std::string name;
      in >> cpu.threads >> cpu.run_seconds >> cpu.wait_seconds;
      std::getline(in >> std::ws, name);
      result.cpu.by_thread[name] = cpu;
    } else if (key == "failure") {
      std::string code, example;
      int64_t count = 0;
      in >> code >> count;
      std::getline(in >> std::ws, example);
      result.failures[code] = count;
      result.failure_examples[code] = example;
    } else if (key == "latencies") {
      size_t n = 0;
      in >> n;
      result.window_latencies_us.resize(n);
      for (int64_t& us : result.window_latencies_us) in >> us;
    } else if (key == "acked") {
      size_t client = 0, n = 0;
      in >> client >> n;
      if (client >= result.acked_steps.size()) {
        return absl::InternalError(absl::StrCat(path, ": bad client ", client));
      }
      std::vector<int64_t>& steps = result.acked_steps[client];
      steps.resize(n);
      for (int64_t& step : steps) in >> step;
    } else {
      return absl::InternalError(absl::StrCat(path, ": unknown key ", key));
    }
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path));
  return result;
}

// Waits for the child and says how it ended.
absl::Status Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError("waitpid failed");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(
      "the client process ended with ",
      WIFEXITED(status) ? absl::StrCat("exit code ", WEXITSTATUS(status))
                        : absl::StrCat("signal ", WTERMSIG(status))));
}

}  // namespace

v1::Measurement MakeMeasurement(int64_t step, int metrics) {
  v1::Measurement measurement;
  measurement.set_step(step);
  for (int i = 0; i < metrics && i < 8; ++i) {
    (*measurement.mutable_metrics())[kMetricNames[i]] =
        1.0 / static_cast<double>(step + i + 1);
  }
  return measurement;
}

std::vector<v1::Measurement> MakeMeasurements(int64_t first_step, int count,
                                              int metrics) {
  std::vector<v1::Measurement> measurements;
  measurements.reserve(static_cast<size_t>(count));
  for (int64_t step = first_step; step < first_step + count; ++step) {
    measurements.push_back(MakeMeasurement(step, metrics));
  }
  return measurements;
}

std::vector<GrpcClient> ConnectClients(const std::string& address, int n,
                                       int channels) {
  std::vector<GrpcClient> clients;
  for (int i = 0; i < n; ++i) {
    GrpcClient client;
    if (i >= channels) {
      client.channel = clients[static_cast<size_t>(i % channels)].channel;
    } else {
      grpc::ChannelArguments arguments;
      arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      client.channel = grpc::CreateCustomChannel(
          address, grpc::InsecureChannelCredentials(), arguments);
      client.channel->WaitForConnected(std::chrono::system_clock::now() +
                                       std::chrono::seconds(10));
    }
    client.stub = v1::TrialService::NewStub(client.channel);
    clients.push_back(std::move(client));
  }
  return clients;
}

ReportFn GrpcReporter(const std::vector<GrpcClient>& clients,
                      const std::vector<BenchTrial>& trials, int metrics) {
  return [&clients, &trials, metrics](int client, int64_t first_step,
                                      int count,
                                      std::function<void(absl::Status)> done) {
    struct Call {
      grpc::ClientContext context;
      v1::ReportMeasurementRequest request;
      v1::ReportMeasurementResponse response;
    };
    const BenchTrial& trial = trials[static_cast<size_t>(client)];
    auto* call = new Call;
    server::PrepareClientContext(&call->context, trial.token,
                                 absl::Seconds(30));
    call->request.set_trial_id(trial.trial_id);
    for (v1::Measurement& measurement :
         MakeMeasurements(first_step, count, metrics)) {
      *call->request.add_measurements() = std::move(measurement);
    }
    clients[static_cast<size_t>(client)].stub->async()->ReportMeasurement(
        &call->context, &call->request, &call->response,
        [call, done = std::move(done)](grpc::Status status) {
          // Freed before `done`, which may end the run and the channels.
          delete call;
          done(server::FromGrpcStatus(status));
        });
  };
}

absl::StatusOr<std::unique_ptr<AsyncReporter>> AsyncReporter::Connect(
    const std::string& address, const std::vector<BenchTrial>& trials,
    int metrics) {
  std::unique_ptr<AsyncReporter> reporter(new AsyncReporter(metrics));
  for (const BenchTrial& trial : trials) {
    absl::StatusOr<std::unique_ptr<client::Trial>> connected =
        client::Trial::Connect(address, trial.trial_id, trial.token);
    if (!connected.ok()) return connected.status();
    reporter->trials_.push_back(*std::move(connected));
  }
  return reporter;
}

ReportFn AsyncReporter::AsReportFn() {
  return [this](int client, int64_t first_step, int count,
                std::function<void(absl::Status)> done) {
    // Answered when the last of its measurements is, with the first error.
    struct Pending {
      std::mutex mu;
      int left = 0;
      absl::Status status;
      std::function<void(absl::Status)> done;
    };
    auto pending = std::make_shared<Pending>();
    pending->left = count;
    pending->done = std::move(done);
    auto answer = [pending](absl::StatusOr<bool> stored) {
      std::unique_lock<std::mutex> lock(pending->mu);
      if (pending->status.ok()) pending->status = stored.status();
      if (--pending->left > 0) return;
      lock.unlock();
      pending->done(pending->status);
    };
    client::Trial& trial = *trials_[static_cast<size_t>(client)];
    for (int64_t step = first_step; step < first_step + count; ++step) {
      const v1::Measurement measurement = MakeMeasurement(step, metrics_);
      const std::map<std::string, double> values(measurement.metrics().begin(),
                                                 measurement.metrics().end());
      if (absl::Status queued = trial.ReportAsync(step, values, answer);
          !queued.ok()) {
        answer(queued);
      }
    }
  };
}

absl::Status AsyncReporter::Flush() {
  for (std::unique_ptr<client::Trial>& trial : trials_) {
    if (absl::Status s = trial->Flush(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadResult> RunInClientProcess(
    const ClientProcessPlan& plan, const std::string& dir,
    const std::function<void(int64_t start_at_ns)>& on_start) {
  const std::string plan_path = dir + "/clients.plan";
  const std::string out_path = dir + "/clients.out";
  if (absl::Status s = WritePlan(plan, plan_path); !s.ok()) return s;

  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) {
    return absl::InternalError("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, to_child[1]);
  posix_spawn_file_actions_addclose(&actions, from_child[0]);
  std::string exe = "/proc/self/exe", flag = "--client-process";
  std::vector<char*> argv = {exe.data(), flag.data(),
                             const_cast<char*>(plan_path.c_str()),
                             const_cast<char*>(out_path.c_str()), nullptr};
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  std::FILE* child_out = fdopen(from_child[0], "r");
  std::FILE* child_in = fdopen(to_child[1], "w");
  if (spawned != 0) {
    std::fclose(child_out);
    std::fclose(child_in);
    return absl::InternalError("cannot start the client process");
  }

  char line[64] = {};
  const bool ready = std::fgets(line, sizeof line, child_out) != nullptr &&
                     std::string(line) == "ready\n";
  if (!ready) {
    std::fclose(child_in);
    std::fclose(child_out);
    absl::Status ended = Reap(pid);
    return absl::InternalError(absl::StrCat(
        "the client process did not get ready: ", ended.ToString()));
  }
  const int64_t start_at_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          (std::chrono::steady_clock::now() + std::chrono::milliseconds(200))
              .time_since_epoch())
          .count();
  std::fprintf(child_in, "%ld\n", static_cast<long>(start_at_ns));
  std::fclose(child_in);
  on_start(start_at_ns);
  absl::Status ended = Reap(pid);
  std::fclose(child_out);
  if (!ended.ok()) return ended;
  return ReadResult(out_path, static_cast<int>(plan.trials.size()),
                    plan.load.measure);
}

int ClientProcessMain(const std::string& plan_path,
                      const std::string& out_path) {
  absl::StatusOr<ClientProcessPlan> plan = ReadPlan(plan_path);
  if (!plan.ok()) {
    std::fprintf(stderr, "client process: %s\n",
                 plan.status().ToString().c_str());
    return 3;
  }
  std::vector<GrpcClient> clients;
  std::unique_ptr<AsyncReporter> streams;
  ReportFn report;
  if (plan->rpc == ReportRpc::kStream) {
    absl::StatusOr<std::unique_ptr<AsyncReporter>> connected =
        AsyncReporter::Connect(plan->address, plan->trials, plan->metrics);
    if (!connected.ok()) {
      std::fprintf(stderr, "client process: %s\n",
                   connected.status().ToString().c_str());
      return 3;
    }
    streams = *std::move(connected);
    report = streams->AsReportFn();
  } else {
    clients = ConnectClients(
        plan->address, static_cast<int>(plan->trials.size()), plan->channels);
    report = GrpcReporter(clients, plan->trials, plan->metrics);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  long start_at_ns = 0;
  if (std::scanf("%ld", &start_at_ns) != 1) return 3;
  plan->load.start_at_ns = start_at_ns;
  const LoadResult result = RunLoad(plan->load, report);
  if (absl::Status s = WriteResult(result, out_path); !s.ok()) {
    std::fprintf(stderr, "client process: %s\n", s.ToString().c_str());
    return 3;
  }
  std::fflush(stdout);
  // Calls still outstanding would use the clients: do not destroy them.
  if (result.hung) std::_Exit(0);
  if (streams != nullptr) streams->Flush().IgnoreError();
  return 0;
}

}  // namespace vernier::bench
