// bench/dashboard: how fast the dashboard stays at 10,000 trials.
//
// Builds a database with one study of 10,000 trials (SUCCEEDED, four
// parameters) and 100 intermediate values of one metric each (1,000,000
// measurements) through the Store API, serves it with the web module's
// HttpServer as `vernier serve` does, then prints the JSON API's latencies
// (p50/p95 over --requests calls each, after a warm-up) and the time until
// the study page has rendered in headless Chromium (bench/dashboard_render.mjs,
// playwright-core). Targets: API p95 under 100 ms, page under 1.5 s.
#include <httplib.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"
#include "storage/sqlite_store.h"
#include "web/http_server.h"
#include "web/live_updates.h"
#include "web/metrics.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

vernier::v1::Study BenchStudy(int trials) {
  vernier::v1::Study study;
  study.set_name("bench");
  study.set_state(vernier::v1::Study::ACTIVE);
  auto& spec = *study.mutable_spec();
  spec.set_name("bench");
  spec.set_description("10,000 trials for bench/dashboard");
  spec.mutable_objective()->set_metric("loss");
  spec.mutable_objective()->set_goal(vernier::v1::ObjectiveSpec::MINIMIZE);
  spec.mutable_algorithm()->set_name("random");
  spec.mutable_trials()->set_max(trials);
  spec.mutable_trials()->set_parallel(8);
  for (const char* name : {"lr", "momentum", "dropout"}) {
    auto& p = *spec.add_parameters();
    p.set_name(name);
    p.set_type(vernier::v1::ParameterSpec::DOUBLE);
    p.set_min(name == std::string("lr") ? 1e-5 : 0);
    p.set_max(1);
    if (name == std::string("lr")) p.set_scale(vernier::v1::ParameterSpec::LOG);
  }
  auto& opt = *spec.add_parameters();
  opt.set_name("optimizer");
  opt.set_type(vernier::v1::ParameterSpec::CATEGORICAL);
  for (const char* c : {"adam", "sgd", "rmsprop"}) opt.add_categories(c);
  spec.mutable_worker()->add_command("train");
  *study.mutable_create_time() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1.7e9);
  return study;
}

// Fills the database; returns the id of trial 1.
int64_t Populate(vernier::storage::Store& store, int trial_count, int steps) {
  const auto start = Clock::now();
  vernier::v1::Study study = *store.CreateStudy(BenchStudy(trial_count));
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0, 1);
  const char* optimizers[] = {"adam", "sgd", "rmsprop"};
  std::vector<int64_t> ids;
  for (int first = 1; first <= trial_count; first += 1000) {
    std::vector<vernier::v1::Trial> batch;
    for (int n = first; n < first + 1000 && n <= trial_count; ++n) {
      vernier::v1::Trial trial;
      trial.set_study_id(study.id());
      trial.set_number(n);
      const double lr = std::pow(10, -5 + 5 * unit(rng));
      const double momentum = unit(rng);
      auto& params = *trial.mutable_parameters();
      params["lr"].set_number_value(lr);
      params["momentum"].set_number_value(momentum);
      params["dropout"].set_number_value(unit(rng));
      params["optimizer"].set_string_value(optimizers[n % 3]);
      trial.set_state(vernier::v1::Trial::SUCCEEDED);
      const double loss = std::pow(std::log10(lr) + 2.5, 2) + momentum * 0.1 +
                          0.05 * unit(rng);
      trial.set_objective(loss);
      (*trial.mutable_final_metrics())["loss"] = loss;
      const int64_t t0 = 1'700'000'000 + n * 5;
      trial.mutable_start_time()->set_seconds(t0);
      trial.mutable_end_time()->set_seconds(t0 + 38);
      trial.set_attempt(1);
      trial.set_log_path("/dev/null");
      batch.push_back(std::move(trial));
    }
    auto created = store.CreateTrials(std::move(batch));
    for (const auto& trial : *created) ids.push_back(trial.id());
  }
  std::atomic<int> pending = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::vector<vernier::v1::Measurement> curve;
    for (int step = 1; step <= steps; ++step) {
      vernier::v1::Measurement m;
      m.set_step(step);
      (*m.mutable_metrics())["loss"] = 3.0 / step + 0.001 * i;
      curve.push_back(std::move(m));
    }
    ++pending;
    store.AddMeasurementsAsync(ids[i], std::move(curve),
                               [&pending](absl::Status) { --pending; });
  }
  while (pending > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::printf("database: %d trials, %lld measurements, written in %.1f s\n",
              trial_count, static_cast<long long>(trial_count) * steps,
              Millis(Clock::now() - start) / 1000);
  return ids.front();
}

struct Figures {
  double first = 0;  // the first call: cold caches
  double p50 = 0, p95 = 0, max = 0;
  size_t bytes = 0;
};

Figures Measure(httplib::Client& client, const std::string& path, int requests) {
  std::vector<double> times;
  size_t bytes = 0;
  double first = 0;
  for (int i = 0; i < requests + 3; ++i) {
    const auto start = Clock::now();
    httplib::Result result = client.Get(path.c_str());
    const double ms = Millis(Clock::now() - start);
    if (!result || result->status != 200) {
      std::fprintf(stderr, "GET %s failed: %d\n", path.c_str(),
                   result ? result->status : -1);
      std::exit(1);
    }
    bytes = result->body.size();
    if (i == 0) first = ms;
    if (i >= 3) times.push_back(ms);  // the first calls warm caches
  }
  std::sort(times.begin(), times.end());
  auto at = [&](double q) {
    return times[std::min(times.size() - 1,
                          static_cast<size_t>(q * times.size()))];
  };
  return Figures{first, at(0.5), at(0.95), times.back(), bytes};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Dashboard latency at 10,000 trials"};
  int trials = 10'000;
  int steps = 100;
  int requests = 50;
  bool no_browser = false;
  std::string db;
  app.add_option("--trials", trials, "Trials in the study")->capture_default_str();
  app.add_option("--steps", steps, "Intermediate values per trial")->capture_default_str();
  app.add_option("--requests", requests, "Calls per endpoint")->capture_default_str();
  app.add_option("--db", db, "Keep the database here (default: a temporary file)");
  app.add_flag("--no-browser", no_browser, "Skip the Chromium page timing");
  CLI11_PARSE(app, argc, argv);

  const fs::path dir = fs::temp_directory_path() /
                       absl::StrCat("vernier-bench-dashboard-", getpid());
  fs::create_directories(dir);
  const std::string path = db.empty() ? (dir / "bench.db").string() : db;
  fs::remove(path);
  auto store = vernier::storage::SqliteStore::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  const int64_t first_trial = Populate(**store, trials, steps);

  vernier::web::Metrics metrics;
  vernier::web::LiveUpdates live;
  auto server = vernier::web::HttpServer::Start(
      vernier::web::HttpServerOptions{.address = "127.0.0.1:0"}, store->get(),
      /*manager=*/nullptr, &live, &metrics);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  httplib::Client client("127.0.0.1", (*server)->port());
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);

  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"study list", "/api/v1/studies"},
      {"study summary", "/api/v1/studies/bench"},
      {"trial page (50, by number)", "/api/v1/studies/bench/trials?page_size=50"},
      {"trial page (50, by objective)",
       "/api/v1/studies/bench/trials?page_size=50&order_by=objective"},
      {"trial page (filtered, by param)",
       "/api/v1/studies/bench/trials?page_size=50&state=SUCCEEDED&range=lr:"
       "0.001:0.01&order_by=params.momentum%20desc"},
      {"trial page (last page)",
       absl::StrCat("/api/v1/studies/bench/trials?page_size=50&page_token=",
                    "b2Zmc2V0Ojk5NTA=")},  // offset:9950
      {"plot data (columns, all trials)", "/api/v1/studies/bench/columns"},
      {"plot data (curves, 50 trials)", "/api/v1/studies/bench/curves?page_size=50"},
      {"trial (with 100 measurements)",
       absl::StrCat("/api/v1/trials/", first_trial)},
      {"/metrics", "/metrics"},
  };
  std::printf("\n%-34s %9s %9s %9s %9s %10s\n", "endpoint", "first ms",
              "p50 ms", "p95 ms", "max ms", "bytes");
  bool api_ok = true;
  for (const auto& [name, url] : endpoints) {
    const Figures f = Measure(client, url, requests);
    std::printf("%-34s %9.2f %9.2f %9.2f %9.2f %10zu\n", name.c_str(), f.first,
                f.p50, f.p95, f.max, f.bytes);
    if (url.rfind("/api/", 0) == 0 && f.p95 >= 100) api_ok = false;
  }
  std::printf("API p95 < 100 ms: %s\n", api_ok ? "yes" : "NO");

  int status = api_ok ? 0 : 2;
  if (!no_browser) {
    const std::string command = absl::StrCat(
        "node ", VERNIER_BENCH_DIR, "/dashboard_render.mjs ",
        (*server)->url(), "#/studies/bench");
    std::printf("\n%s\n", "study page in headless Chromium (5 loads):");
    std::fflush(stdout);
    if (std::system(command.c_str()) != 0) status = 2;
  }
  (*server)->Shutdown();
  store->reset();
  fs::remove_all(dir);
  return status;
}
