// bench/ingest: how many intermediate measurements a Vernier server makes
// durable per second, and how long each report waits for its answer.
//
// Starts the server on loopback as `vernier serve` wires it (see
// ingest_fixture.h), then N clients, each with its own gRPC channel (its own
// TCP connection) and K TrialService.ReportMeasurement calls in flight on the
// callback API, each call one step of the client's own trial with a few
// metrics, for a fixed time. The clients run in a child process by default
// (--in-process puts them beside the server). Prints the acknowledged rate
// and ack latencies, the storage writer's batching, where the CPU went, then
// checks that every acknowledged measurement is in the database. Then runs
// Optuna's trial.report into its SQLite RDBStorage with as many processes
// (optuna_report.py) and prints both rates and their ratio.
//
// Stages, for profiling: --path manager|store drives the same load straight
// into StudyManager::ReportMeasurement or Store::AddMeasurementsAsync (no
// gRPC, in-process); --path grpc-noop sends it over gRPC to a server whose
// manager answers at once and stores nothing (gRPC alone).
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/grpc_clients.h"
#include "bench/ingest_fixture.h"
#include "bench/noop_manager.h"
#include "bench/optuna_side.h"
#include "bench/report_load.h"

namespace vernier::bench {
namespace {

// The goal for this 2-core machine.
constexpr double kTargetRate = 50'000;
constexpr int64_t kTargetP99Us = 20'000;

struct Flags {
  int clients = 64;
  int channels = 0;  // 0: one per client
  int inflight = 8;
  int batch = 1;
  int metrics = 3;
  double seconds = 10;
  double warmup = 1;
  bool optuna = true;
  bool quick = false;
  bool in_process = false;
  std::string path = "grpc";
  std::string rpc = "stream";
  std::string dir;
  std::string optuna_script = VERNIER_BENCH_DIR "/optuna_report.py";
};

ReportRpc Rpc(const Flags& flags) {
  return flags.rpc == "stream" ? ReportRpc::kStream : ReportRpc::kUnary;
}

ReportFn ManagerReporter(controller::StudyManager* manager,
                         const std::vector<BenchTrial>& trials, int metrics) {
  return [manager, &trials, metrics](int client, int64_t first_step,
                                     int count,
                                     std::function<void(absl::Status)> done) {
    const BenchTrial& trial = trials[static_cast<size_t>(client)];
    manager->ReportMeasurements(
        trial.trial_id, trial.token,
        MakeMeasurements(first_step, count, metrics),
        [done = std::move(done)](absl::StatusOr<bool> should_stop) {
          done(should_stop.status());
        });
  };
}

ReportFn StoreReporter(storage::Store* store,
                       const std::vector<BenchTrial>& trials, int metrics) {
  return [store, &trials, metrics](int client, int64_t first_step, int count,
                                   std::function<void(absl::Status)> done) {
    std::vector<v1::Measurement> measurements =
        MakeMeasurements(first_step, count, metrics);
    for (v1::Measurement& measurement : measurements) {
      *measurement.mutable_time() =
          google::protobuf::util::TimeUtil::GetCurrentTime();
    }
    store->AddMeasurementsAsync(trials[static_cast<size_t>(client)].trial_id,
                                std::move(measurements), std::move(done));
  };
}

struct Verification {
  int64_t acked = 0;
  int64_t stored = 0;   // measurements of the clients' trials in the database
  int64_t missing = 0;  // acked and not stored, or stored without a metric
  std::string first_problem;
  bool ok() const { return missing == 0 && first_problem.empty(); }
};

Verification Verify(storage::Store* store,
                    const std::vector<BenchTrial>& trials,
                    const LoadResult& load, int metrics) {
  Verification v;
  for (size_t i = 0; i < load.acked_steps.size(); ++i) {
    absl::StatusOr<std::vector<v1::Measurement>> stored =
        store->ListMeasurements(trials[i].trial_id);
    if (!stored.ok()) {
      v.first_problem = stored.status().ToString();
      return v;
    }
    std::set<int64_t> complete;
    for (const v1::Measurement& m : *stored) {
      if (m.metrics_size() == metrics) complete.insert(m.step());
    }
    v.stored += static_cast<int64_t>(stored->size());
    for (int64_t step : load.acked_steps[i]) {
      ++v.acked;
      if (complete.count(step) == 0 && v.missing++ == 0) {
        v.first_problem = absl::StrCat("trial ", trials[i].trial_id, " step ",
                                       step, " is not stored");
      }
    }
  }
  return v;
}

std::string Thousands(int64_t n) {
  const std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string Ms(int64_t micros) {
  return absl::StrFormat("%.2f ms", static_cast<double>(micros) / 1000.0);
}

double LoadAverage() {
  double load = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

void PrintCpu(const char* label, const CpuUse& cpu, double seconds,
              int64_t measurements) {
  std::vector<std::pair<ThreadCpu, std::string>> threads;
  for (const auto& [name, use] : cpu.by_thread) {
    if (use.run_seconds >= 0.005) threads.push_back({use, name});
  }
  std::sort(threads.begin(), threads.end(), [](const auto& a, const auto& b) {
    return a.first.run_seconds > b.first.run_seconds;
  });
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const double per =
      measurements > 0 ? 1e6 / static_cast<double>(measurements) : 0;
  std::printf(
      "  cpu, %-16s %.2f s of the %.1f s the cores had (%.1f us per "
      "measurement)\n",
      label, cpu.process_seconds, seconds * static_cast<double>(cores),
      cpu.process_seconds * per);
  for (const auto& [use, name] : threads) {
    std::printf(
        "    %-16s x%-3d on cpu %5.2f s (%5.1f us/measurement), "
        "waiting for a cpu %5.2f s\n",
        name.c_str(), use.threads, use.run_seconds, use.run_seconds * per,
        use.wait_seconds);
  }
}

// Prints the figures of the Vernier run; returns its rate (per second).
// `writer` is what the storage writer did in the window; `server_cpu` is the
// server's when the clients ran in a process of their own.
double PrintVernier(const Flags& flags, LoadResult& load,
                    const storage::GroupedWriter::Stats& writer,
                    bool client_process, const CpuUse& server_cpu) {
  std::sort(load.window_latencies_us.begin(), load.window_latencies_us.end());
  const std::vector<int64_t>& lat = load.window_latencies_us;
  const double rate = static_cast<double>(load.window_acked) / flags.seconds;
  const int64_t writes = writer.writes, commits = writer.commits;

  std::printf("vernier\n");
  std::printf(
      "  acknowledged durable  %s measurements in %.1f s = %s /s "
      "(%s metric rows/s)\n",
      Thousands(load.window_acked).c_str(), flags.seconds,
      Thousands(static_cast<int64_t>(rate)).c_str(),
      Thousands(static_cast<int64_t>(rate * flags.metrics)).c_str());
  std::printf("  reports               %s /s, %d measurements each\n",
              Thousands(static_cast<int64_t>(
                            static_cast<double>(lat.size()) /
                            flags.seconds))
                  .c_str(),
              flags.batch);
  std::printf("  ack latency           p50 %s  p95 %s  p99 %s  max %s\n",
              Ms(Percentile(lat, 50)).c_str(), Ms(Percentile(lat, 95)).c_str(),
              Ms(Percentile(lat, 99)).c_str(),
              Ms(lat.empty() ? 0 : lat.back()).c_str());
  const bool target_met =
      rate >= kTargetRate && Percentile(lat, 99) < kTargetP99Us;
  std::printf(
      "  target                %s: at least %s /s with p99 under %s "
      "(the goal at 64 clients on 2 cores)\n",
      target_met ? "met" : "MISSED",
      Thousands(static_cast<int64_t>(kTargetRate)).c_str(),
      Ms(kTargetP99Us).c_str());
  std::printf(
      "  storage writer        %s writes in %s transactions, %.1f "
      "writes per commit\n",
      Thousands(writes).c_str(), Thousands(commits).c_str(),
      commits > 0 ? static_cast<double>(writes) / commits : 0.0);
  if (client_process) {
    PrintCpu("server process", server_cpu, flags.seconds, load.window_acked);
    PrintCpu("client process", load.cpu, flags.seconds, load.window_acked);
  } else {
    PrintCpu("process", load.cpu, flags.seconds, load.window_acked);
  }
  for (const auto& [code, count] : load.failures) {
    std::printf("  failed reports        %s x %s (%s)\n",
                Thousands(count).c_str(), code.c_str(),
                load.failure_examples[code].c_str());
  }
  std::fflush(stdout);

  return rate;
}

// Runs Optuna's side with as many processes and prints it beside `rate`;
// false when it could not run or lost a report.
bool RunOptunaSide(const Flags& flags, const std::string& dir, double rate) {
  absl::StatusOr<OptunaResult> optuna =
      RunOptuna(flags.optuna_script, flags.clients, flags.seconds, flags.warmup,
                (std::filesystem::path(dir) / "optuna.db").string());
  if (!optuna.ok()) {
    std::printf("optuna: %s\n", optuna.status().ToString().c_str());
    return false;
  }
  std::printf(
      "optuna %s trial.report, RDBStorage on SQLite, %d "
      "processes\n",
      optuna->version.c_str(), flags.clients);
  std::printf("  acknowledged durable  %s reports in %.1f s = %s /s\n",
              Thousands(optuna->window_reports).c_str(), flags.seconds,
              Thousands(static_cast<int64_t>(optuna->rate)).c_str());
  std::printf(
      "  report latency        p50 %.2f ms  p95 %.2f ms  p99 "
      "%.2f ms\n",
      optuna->p50_ms, optuna->p95_ms, optuna->p99_ms);
  std::printf(
      "  verify                %s: %s returned, %s stored, %s "
      "errors\n",
      optuna->verified ? "PASS" : "FAIL", Thousands(optuna->reported).c_str(),
      Thousands(optuna->stored).c_str(), Thousands(optuna->errors).c_str());
  std::printf("ratio                   vernier/optuna = %.1fx\n",
              optuna->rate > 0 ? rate / optuna->rate : 0.0);
  return optuna->verified;
}

int Main(const Flags& flags) {
  const std::string dir =
      flags.dir.empty() ? (std::filesystem::temp_directory_path() /
                           absl::StrCat("vernier-bench-ingest-", getpid()))
                              .string()
                        : flags.dir;
  // The folder goes on every way out, after the fixture below has closed.
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code error;
      std::filesystem::remove_all(path, error);
    }
  } remove_dir{dir};
  const int channels = flags.channels > 0 ? flags.channels : flags.clients;
  const bool over_grpc = flags.path == "grpc" || flags.path == "grpc-noop";
  const bool client_process = over_grpc && !flags.in_process;
  const bool stores = flags.path != "grpc-noop";
  std::printf(
      "bench/ingest: %d clients (%d channels, %s) x %d reports in flight "
      "x %d measurements per report, %d metrics per measurement, %.1f s "
      "(+%.1f s warm-up), path %s%s; load average before: %.2f\n",
      flags.clients, channels, client_process ? "client process" : "in-process",
      flags.inflight, flags.batch, flags.metrics, flags.seconds, flags.warmup,
      flags.path.c_str(),
      over_grpc ? absl::StrCat(" (", flags.rpc, ")").c_str() : "",
      LoadAverage());
  std::fflush(stdout);

  absl::StatusOr<std::unique_ptr<IngestFixture>> fixture =
      IngestFixture::Start(dir, flags.clients);
  if (!fixture.ok()) {
    std::fprintf(stderr, "bench/ingest: %s\n",
                 fixture.status().ToString().c_str());
    return 3;
  }
  const std::vector<BenchTrial>& trials = (*fixture)->trials();
  storage::SqliteStore* store = (*fixture)->store();

  NoopManager noop_manager;
  std::unique_ptr<server::GrpcServer> noop_server;
  if (!stores) {
    server::GrpcServerOptions noop_options;
    noop_options.address = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<server::GrpcServer>> started =
        server::GrpcServer::Start(noop_options, &noop_manager, store);
    if (!started.ok()) {
      std::fprintf(stderr, "bench/ingest: %s\n",
                   started.status().ToString().c_str());
      return 3;
    }
    noop_server = *std::move(started);
  }
  const std::string address =
      stores ? (*fixture)->address() : noop_server->address();

  LoadOptions options{.clients = flags.clients,
                      .inflight = flags.inflight,
                      .batch = flags.batch,
                      .warmup = absl::Seconds(flags.warmup),
                      .measure = absl::Seconds(flags.seconds)};
  storage::GroupedWriter::Stats writer_before, writer_after;
  options.on_window_start = [&] { writer_before = store->writer_stats(); };
  options.on_window_end = [&] { writer_after = store->writer_stats(); };

  LoadResult load;
  CpuUse server_cpu;  // with a client process: this process, the server
  if (client_process) {
    ClientProcessPlan plan{.address = address,
                           .channels = channels,
                           .metrics = flags.metrics,
                           .rpc = Rpc(flags),
                           .load = options,
                           .trials = trials};
    plan.load.on_window_start = nullptr;
    plan.load.on_window_end = nullptr;
    absl::StatusOr<LoadResult> result =
        RunInClientProcess(plan, dir, [&](int64_t start_at_ns) {
          const auto start = std::chrono::steady_clock::time_point(
              std::chrono::nanoseconds(start_at_ns));
          std::this_thread::sleep_until(
              start + absl::ToChronoNanoseconds(options.warmup));
          const CpuSnapshot before = TakeCpuSnapshot();
          options.on_window_start();
          std::this_thread::sleep_until(
              start + absl::ToChronoNanoseconds(options.warmup) +
              absl::ToChronoNanoseconds(options.measure));
          server_cpu = CpuBetween(before, TakeCpuSnapshot());
          options.on_window_end();
        });
    if (!result.ok()) {
      std::printf("FAIL: %s\n", result.status().ToString().c_str());
      return 1;
    }
    load = *std::move(result);
  } else {
    std::vector<GrpcClient> clients;
    std::unique_ptr<AsyncReporter> streams;
    ReportFn report;
    if (over_grpc && Rpc(flags) == ReportRpc::kStream) {
      absl::StatusOr<std::unique_ptr<AsyncReporter>> connected =
          AsyncReporter::Connect(address, trials, flags.metrics);
      if (!connected.ok()) {
        std::printf("FAIL: %s\n", connected.status().ToString().c_str());
        return 1;
      }
      streams = *std::move(connected);
      report = streams->AsReportFn();
    } else if (over_grpc) {
      clients = ConnectClients(address, flags.clients, channels);
      report = GrpcReporter(clients, trials, flags.metrics);
    } else if (flags.path == "manager") {
      report = ManagerReporter((*fixture)->manager(), trials, flags.metrics);
    } else {
      report = StoreReporter(store, trials, flags.metrics);
    }
    load = RunLoad(options, report);
    if (load.hung) {
      std::printf("FAIL: reports still unanswered %s after the window\n",
                  absl::FormatDuration(options.drain_timeout).c_str());
      std::fflush(stdout);
      std::_Exit(1);  // outstanding calls still use the clients
    }
    if (streams != nullptr) streams->Flush().IgnoreError();
  }
  if (noop_server != nullptr) noop_server->Shutdown(absl::Seconds(5));
  if (load.hung) {
    std::printf(
        "FAIL: the client process had reports still unanswered %s "
        "after the window\n",
        absl::FormatDuration(options.drain_timeout).c_str());
    return 1;
  }

  const storage::GroupedWriter::Stats window_writes{
      .writes = writer_after.writes - writer_before.writes,
      .commits = writer_after.commits - writer_before.commits};
  const double rate =
      PrintVernier(flags, load, window_writes, client_process, server_cpu);

  // Stop the workers before reading back and before Optuna takes the cores.
  // The stop request queues behind the controller's unhandled events, so its
  // time shows any backlog the load left.
  const absl::Time stop_start = absl::Now();
  (*fixture)->Stop();
  std::printf("  stopping the study    %s (stop request, workers, server)\n",
              absl::FormatDuration(
                  absl::Trunc(absl::Now() - stop_start, absl::Milliseconds(1)))
                  .c_str());
  Verification verified;
  if (stores) {
    verified = Verify(store, trials, load, flags.metrics);
    std::printf(
        "  verify                %s: %s acknowledged, %s stored, %s "
        "missing%s%s\n",
        verified.ok() ? "PASS" : "FAIL", Thousands(verified.acked).c_str(),
        Thousands(verified.stored).c_str(), Thousands(verified.missing).c_str(),
        verified.first_problem.empty() ? "" : "; ",
        verified.first_problem.c_str());
  } else {
    std::printf("  verify                skipped: grpc-noop stores nothing\n");
  }
  std::fflush(stdout);
  fixture->reset();

  int exit_code = verified.ok() && load.failures.empty() ? 0 : 1;
  if (flags.optuna && !RunOptunaSide(flags, dir, rate)) exit_code = 1;
  return exit_code;
}

}  // namespace
}  // namespace vernier::bench

int main(int argc, char** argv) {
  // The child that runs the clients (see grpc_clients.h).
  if (argc == 4 && std::string(argv[1]) == "--client-process") {
    return vernier::bench::ClientProcessMain(argv[2], argv[3]);
  }
  vernier::bench::Flags flags;
  CLI::App app{"Vernier ingestion benchmark: durable measurements per second"};
  app.add_option("--clients", flags.clients,
                 "reporting clients (one trial each)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--channels", flags.channels,
                 "gRPC channels (TCP connections) the clients share; "
                 "default one per client")
      ->check(CLI::Range(1, 1024));
  app.add_option("--inflight", flags.inflight, "reports in flight per client")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--batch", flags.batch,
                 "measurements per report (consecutive steps of one trial)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--metrics", flags.metrics, "metrics per measurement")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  app.add_option("--seconds", flags.seconds, "measured window, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", flags.warmup, "warm-up before it, seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--optuna,!--no-optuna", flags.optuna,
               "also run Optuna's trial.report with as many processes");
  app.add_flag("--quick", flags.quick, "2 s window, 0.5 s warm-up");
  app.add_flag("--in-process", flags.in_process,
               "run the gRPC clients in this process, not in a child");
  app.add_option("--path", flags.path,
                 "grpc (the real path), or a stage: grpc-noop, manager, store")
      ->check(CLI::IsMember({"grpc", "grpc-noop", "manager", "store"}))
      ->capture_default_str();
  app.add_option("--rpc", flags.rpc,
                 "how the gRPC clients report: stream (StreamMeasurements, "
                 "one stream per client) or unary (ReportMeasurement calls)")
      ->check(CLI::IsMember({"stream", "unary"}))
      ->capture_default_str();
  app.add_option("--dir", flags.dir, "working folder (removed afterwards)");
  app.add_option("--optuna-script", flags.optuna_script)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (flags.quick) {
    if (app.count("--seconds") == 0) flags.seconds = 2;
    if (app.count("--warmup") == 0) flags.warmup = 0.5;
  }
  spdlog::set_level(spdlog::level::warn);
  return vernier::bench::Main(flags);
}
