// bench/load: one `vernier serve` on loopback under many trials reporting at
// a steady rate for minutes; prints throughput, report latency, the server's
// memory over time and lost acknowledgements. See bench/README.md.
//
// The study has --trials trials, all running at once. Each worker is a shell
// that hands its trial id and token to this program (tokens/ID) and then
// blocks on a FIFO; this program reports for every trial at --hz reports per
// second, open-loop (each report is sent on schedule whether or not the last
// one was answered), over --channels connections, for --seconds. Then it
// completes every trial over TrialService.FinishTrial, releases the workers
// (they exit 0, so the trials succeed), waits for the study to be DONE,
// stops the server, and compares every acknowledged (trial, step) with the
// database.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Statement.h"
#include "absl/strings/str_cat.h"
#include "server/auth.h"
#include "vernier/v1/service.grpc.pb.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Flags {
  int trials = 1000;
  double seconds = 300;
  double hz = 10;
  int channels = 8;
  double rss_every = 5;  // seconds between samples of the server's RSS
  std::string vernier;   // the binary; default: ../vernier beside this one
  std::string workdir;   // default: a new folder under /tmp
};

struct Trial {
  int64_t id = 0;
  std::string token;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "load: %s\n", message.c_str());
  std::exit(1);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    Die("cannot find a free port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

// The resident set of process `pid`, in MiB; 0 once it is gone.
double RssMib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stod(line.substr(6)) / 1024.0;  // kB
    }
  }
  return 0;
}

int ThreadCount(pid_t pid) {
  std::error_code error;
  int n = 0;
  for (auto it =
           fs::directory_iterator(absl::StrCat("/proc/", pid, "/task"), error);
       !error && it != fs::directory_iterator(); it.increment(error)) {
    ++n;
  }
  return n;
}

pid_t StartServer(const Flags& flags, const fs::path& dir,
                  const std::string& address) {
  const std::string db = (dir / "vernier.db").string();
  const std::string out = (dir / "serve.out").string();
  const std::string err = (dir / "serve.err").string();
  std::vector<std::string> args = {
      flags.vernier, "serve", "--db",   db,
      "--grpc",      address, "--http", "127.0.0.1:0"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) !=
      0) {
    Die("cannot start " + flags.vernier);
  }
  posix_spawn_file_actions_destroy(&actions);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (ReadFile(out).find("vernier serving gRPC on") == std::string::npos) {
    if (Clock::now() > deadline || waitpid(pid, nullptr, WNOHANG) == pid) {
      Die("vernier serve did not start: " + ReadFile(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pid;
}

std::string StudyYaml(int trials) {
  return absl::StrCat(R"(name: load
objective: {metric: loss, goal: minimize}
algorithm: {name: random, seed: 1}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: {max: )",
                      trials, ", parallel: ", trials, R"(}
worker:
  command: ["/bin/sh", "-c", "echo $VERNIER_TRIAL_ID $VERNIER_TOKEN > tokens/$VERNIER_TRIAL_ID.tmp && mv tokens/$VERNIER_TRIAL_ID.tmp tokens/$VERNIER_TRIAL_ID && exec cat release.fifo"]
  metrics: {collector: push}
)");
}

// Every trial's id and token, once each worker has written them.
std::vector<Trial> WaitForWorkers(const fs::path& dir, int trials) {
  const auto deadline = Clock::now() + std::chrono::seconds(300);
  while (true) {
    std::vector<Trial> found;
    for (const auto& entry : fs::directory_iterator(dir / "tokens")) {
      if (entry.path().extension() == ".tmp") continue;
      std::istringstream text(ReadFile(entry.path()));
      Trial trial;
      if (text >> trial.id >> trial.token) found.push_back(trial);
    }
    if (static_cast<int>(found.size()) == trials) return found;
    if (Clock::now() > deadline) {
      Die(absl::StrCat("only ", found.size(), " of ", trials,
                       " workers started"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Reports, open-loop, and what came of them.
class Load {
 public:
  Load(std::vector<std::unique_ptr<vernier::v1::TrialService::Stub>> stubs,
       std::vector<Trial> trials)
      : stubs_(std::move(stubs)), trials_(std::move(trials)) {}

  // Sends report `step` of trial `index`; its answer is recorded from a
  // gRPC thread.
  void Send(size_t index, int64_t step) {
    auto call = std::make_shared<Call>();
    const Trial& trial = trials_[index];
    vernier::server::SetBearerToken(&call->context, trial.token);
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(30));
    call->request.set_trial_id(trial.id);
    vernier::v1::Measurement* measurement = call->request.add_measurements();
    measurement->set_step(step);
    (*measurement->mutable_metrics())["loss"] = 1.0 / (1.0 + step);
    call->sent = Clock::now();
    ++in_flight_;
    stubs_[index % stubs_.size()]->async()->ReportMeasurement(
        &call->context, &call->request, &call->response,
        [this, call, index, step](grpc::Status status) {
          const double ms = std::chrono::duration<double, std::milli>(
                                Clock::now() - call->sent)
                                .count();
          std::lock_guard<std::mutex> lock(mu_);
          if (status.ok()) {
            acked_.emplace(trials_[index].id, step);
            latencies_ms_.push_back(ms);
          } else {
            ++failed_;
            if (first_error_.empty()) first_error_ = status.error_message();
          }
          --in_flight_;
        });
  }

  int in_flight() const { return in_flight_; }

  struct Result {
    std::set<std::pair<int64_t, int64_t>> acked;
    std::vector<double> latencies_ms;
    int64_t failed = 0;
    std::string first_error;
  };
  Result TakeResult() {
    std::lock_guard<std::mutex> lock(mu_);
    return {std::move(acked_), std::move(latencies_ms_), failed_, first_error_};
  }

 private:
  struct Call {
    grpc::ClientContext context;
    vernier::v1::ReportMeasurementRequest request;
    vernier::v1::ReportMeasurementResponse response;
    Clock::time_point sent;
  };

  const std::vector<std::unique_ptr<vernier::v1::TrialService::Stub>> stubs_;
  const std::vector<Trial> trials_;
  std::atomic<int> in_flight_{0};
  std::mutex mu_;
  std::set<std::pair<int64_t, int64_t>> acked_;
  std::vector<double> latencies_ms_;
  int64_t failed_ = 0;
  std::string first_error_;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  const size_t k =
      std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

struct RssSample {
  double at_seconds;
  double rss_mib;
  int threads;
};

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"vernier load: many trials reporting to one server"};
  app.add_option("--trials", flags.trials, "trials reporting at once")
      ->check(CLI::Range(1, 100000));
  app.add_option("--seconds", flags.seconds, "how long they report")
      ->check(CLI::PositiveNumber);
  app.add_option("--hz", flags.hz, "reports per second of each trial")
      ->check(CLI::PositiveNumber);
  app.add_option("--channels", flags.channels, "gRPC connections")
      ->check(CLI::Range(1, 1000));
  app.add_option("--rss-every", flags.rss_every,
                 "seconds between samples of the server's memory")
      ->check(CLI::PositiveNumber);
  app.add_option("--vernier", flags.vernier, "the vernier binary");
  app.add_option("--workdir", flags.workdir, "an empty folder for the run");
  CLI11_PARSE(app, argc, argv);
  if (flags.vernier.empty()) {
    flags.vernier =
        (fs::canonical("/proc/self/exe").parent_path().parent_path() /
         "vernier")
            .string();
  }
  fs::path dir = flags.workdir;
  if (dir.empty()) {
    char pattern[] = "/tmp/vernier-load-XXXXXX";
    if (mkdtemp(pattern) == nullptr) Die("cannot make a folder in /tmp");
    dir = pattern;
  }
  fs::create_directories(dir / "tokens");
  if (mkfifo((dir / "release.fifo").c_str(), 0600) != 0) {
    Die("cannot make " + (dir / "release.fifo").string());
  }

  const std::string address = absl::StrCat("127.0.0.1:", FreePort());
  const pid_t server = StartServer(flags, dir, address);
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto studies = vernier::v1::StudyService::NewStub(channel);
  {
    grpc::ClientContext context;
    vernier::v1::CreateStudyRequest request;
    request.set_yaml(StudyYaml(flags.trials));
    request.set_base_dir(dir.string());
    vernier::v1::Study study;
    grpc::Status status = studies->CreateStudy(&context, request, &study);
    if (!status.ok()) Die("CreateStudy: " + status.error_message());
  }
  const auto launch_start = Clock::now();
  std::vector<Trial> trials = WaitForWorkers(dir, flags.trials);
  const double launch_seconds =
      std::chrono::duration<double>(Clock::now() - launch_start).count();

  std::vector<std::unique_ptr<vernier::v1::TrialService::Stub>> stubs;
  for (int i = 0; i < flags.channels; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(
        vernier::v1::TrialService::NewStub(grpc::CreateCustomChannel(
            address, grpc::InsecureChannelCredentials(), arguments)));
  }
  Load load(std::move(stubs), trials);

  // Trial i sends report k at start + (i / trials + k) / hz: the trials'
  // reports are spread evenly over each period.
  const auto period = std::chrono::duration<double>(1.0 / flags.hz);
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  const auto end = start + std::chrono::duration<double>(flags.seconds);
  std::vector<RssSample> rss;
  auto next_sample = start;
  int64_t sent = 0;
  // Sends stop at `end` even when the schedule fell behind (a starved
  // machine); `late` counts the reports sent over 10 ms after their time.
  int64_t late = 0;
  for (int64_t k = 0; Clock::now() < end; ++k) {
    const auto period_start =
        start + std::chrono::duration_cast<Clock::duration>(period * k);
    if (period_start >= end) break;
    for (size_t i = 0; i < trials.size() && Clock::now() < end; ++i) {
      const auto at =
          period_start + std::chrono::duration_cast<Clock::duration>(
                             period * (static_cast<double>(i) / trials.size()));
      std::this_thread::sleep_until(at);
      if (Clock::now() - at > std::chrono::milliseconds(10)) ++late;
      load.Send(i, k);
      ++sent;
      if (Clock::now() >= next_sample) {
        rss.push_back(
            {std::chrono::duration<double>(Clock::now() - start).count(),
             RssMib(server), ThreadCount(server)});
        next_sample =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(flags.rss_every));
      }
    }
  }
  const double load_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  const auto drain_deadline = Clock::now() + std::chrono::seconds(60);
  while (load.in_flight() > 0 && Clock::now() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  rss.push_back({std::chrono::duration<double>(Clock::now() - start).count(),
                 RssMib(server), ThreadCount(server)});

  // Complete every trial, release the workers, and wait for the study.
  auto finisher = vernier::v1::TrialService::NewStub(channel);
  int finish_failures = 0;
  for (const Trial& trial : trials) {
    grpc::ClientContext context;
    vernier::server::SetBearerToken(&context, trial.token);
    vernier::v1::FinishTrialRequest request;
    request.set_trial_id(trial.id);
    (*request.mutable_metrics())["loss"] = 0.5;
    vernier::v1::FinishTrialResponse response;
    if (!finisher->FinishTrial(&context, request, &response).ok()) {
      ++finish_failures;
    }
  }
  {
    const int fifo = open((dir / "release.fifo").c_str(), O_WRONLY);
    if (fifo >= 0) close(fifo);
  }
  std::string study_state = "?";
  const auto done_deadline = Clock::now() + std::chrono::seconds(120);
  while (Clock::now() < done_deadline) {
    grpc::ClientContext context;
    vernier::v1::GetStudyRequest request;
    request.set_name("load");
    vernier::v1::Study study;
    if (studies->GetStudy(&context, request, &study).ok()) {
      study_state = vernier::v1::Study::State_Name(study.state());
      if (study.state() != vernier::v1::Study::ACTIVE) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);

  Load::Result result = load.TakeResult();
  std::set<std::pair<int64_t, int64_t>> stored;
  {
    SQLite::Database db((dir / "vernier.db").string(), SQLite::OPEN_READONLY);
    SQLite::Statement query(
        db, "SELECT trial_id, step FROM measurements WHERE metric = 'loss'");
    while (query.executeStep()) {
      stored.emplace(query.getColumn(0).getInt64(),
                     query.getColumn(1).getInt64());
    }
  }
  int64_t lost = 0;
  for (const auto& key : result.acked) lost += stored.contains(key) ? 0 : 1;

  std::printf("vernier load: %d trials x %.1f Hz for %.0f s, %d channels\n",
              flags.trials, flags.hz, flags.seconds, flags.channels);
  std::printf("  workers started in  %.1f s\n", launch_seconds);
  std::printf("  reports sent        %lld (%.0f/s offered)\n",
              static_cast<long long>(sent), sent / load_seconds);
  std::printf("  sent late (>10 ms)  %.1f%% (behind schedule)\n",
              sent > 0 ? 100.0 * late / sent : 0.0);
  std::printf("  acknowledged        %zu (%.0f/s)\n", result.acked.size(),
              result.acked.size() / load_seconds);
  std::printf("  failed              %lld%s%s\n",
              static_cast<long long>(result.failed),
              result.first_error.empty() ? "" : ", first: ",
              result.first_error.c_str());
  std::printf("  report latency      p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              Percentile(result.latencies_ms, 0.50),
              Percentile(result.latencies_ms, 0.99),
              Percentile(result.latencies_ms, 1.0));
  std::printf(
      "  lost acks           %lld (acknowledged, not in the database)\n",
      static_cast<long long>(lost));
  std::printf("  completions failed  %d; study ended %s\n", finish_failures,
              study_state.c_str());
  std::printf("\n  server memory\n  %8s  %9s  %7s\n", "t (s)", "RSS (MiB)",
              "threads");
  for (const RssSample& sample : rss) {
    std::printf("  %8.0f  %9.1f  %7d\n", sample.at_seconds, sample.rss_mib,
                sample.threads);
  }
  // Flat: from the sample nearest 40% of the run (the 2nd minute of 5) to
  // the end, RSS grew less than 10%.
  const double from_at = 0.4 * flags.seconds;
  const RssSample* from = &rss.front();
  for (const RssSample& sample : rss) {
    if (std::abs(sample.at_seconds - from_at) <
        std::abs(from->at_seconds - from_at)) {
      from = &sample;
    }
  }
  const double growth = (rss.back().rss_mib - from->rss_mib) / from->rss_mib;
  const bool flat = growth < 0.10;
  std::printf(
      "\n  memory %s: %.1f MiB at %.0f s -> %.1f MiB at the end (%+.1f%%)\n",
      flat ? "flat" : "NOT FLAT", from->rss_mib, from->at_seconds,
      rss.back().rss_mib, 100 * growth);
  std::printf("  workdir %s\n", dir.c_str());
  return lost == 0 && flat && result.failed == 0 ? 0 : 1;
}
