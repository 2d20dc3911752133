// bench/bo_latency: time for `gp` to produce a suggestion after n observed
// trials in d dimensions, refits included, beside Optuna TPE's time per
// trial measured afterwards in the same run. See bench/README.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "algorithms/algorithm.h"
#include "algorithms/gp/refit_schedule.h"
#include "bench/optuna_side.h"

namespace vernier::bench {
namespace {

using algorithms::Algorithm;

struct Cell {
  double p50 = 0, p95 = 0, refit = 0, amortised = 0, batch8 = 0, max = 0;
  int period = 1;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100 * values.size()));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

// `count` trials at uniform random points of [0,1]^d with the objective
// sum sin(7 x_i) (the same as bo_optuna.py's latency mode).
std::vector<v1::Trial> History(int d, int count, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<v1::Trial> trials;
  for (int i = 1; i <= count; ++i) {
    v1::Trial trial;
    trial.set_number(i);
    trial.set_state(v1::Trial::SUCCEEDED);
    double value = 0;
    for (int j = 0; j < d; ++j) {
      const double x = static_cast<double>(engine() >> 11) * 0x1.0p-53;
      (*trial.mutable_parameters())[absl::StrCat("x", j)].set_number_value(x);
      value += std::sin(7 * x);
    }
    trial.set_objective(value);
    trial.mutable_end_time()->set_seconds(i);
    trials.push_back(std::move(trial));
  }
  return trials;
}

double Milliseconds(Algorithm& algorithm, const std::vector<v1::Trial>& all,
                    int n, int count) {
  const std::vector<v1::Trial> history(all.begin(), all.begin() + n);
  const auto start = std::chrono::steady_clock::now();
  auto suggestions = algorithm.Suggest(history, count);
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  if (!suggestions.ok() || static_cast<int>(suggestions->size()) != count) {
    std::fprintf(stderr, "suggest failed at n=%d\n", n);
    std::exit(2);
  }
  return ms;
}

Cell Measure(int d, int n, int calls) {
  google::protobuf::RepeatedPtrField<v1::ParameterSpec> parameters;
  for (int j = 0; j < d; ++j) {
    v1::ParameterSpec* p = parameters.Add();
    p->set_name(absl::StrCat("x", j));
    p->set_type(v1::ParameterSpec::DOUBLE);
    p->set_min(0);
    p->set_max(1);
  }
  algorithms::AlgorithmContext context{
      .space = *algorithms::SearchSpace::Create(parameters), .seed = 1};
  context.objective.set_goal(v1::ObjectiveSpec::MINIMIZE);
  std::unique_ptr<Algorithm> gp = *algorithms::CreateAlgorithm("gp", context);
  // The next refit at or after n, and how many trials it serves.
  int refit_at = n;
  while (!algorithms::gp::IsSchedulePoint(refit_at)) ++refit_at;
  Cell cell;
  cell.period = refit_at - algorithms::gp::PreviousSchedulePoint(refit_at);
  const std::vector<v1::Trial> all = History(d, refit_at + calls + 1, 100 * d + n);

  // Untimed: the instance catches up with the history (as a resumed study).
  Milliseconds(*gp, all, refit_at - 1, 1);
  cell.refit = Milliseconds(*gp, all, refit_at, 1);
  std::vector<double> steady;
  for (int m = refit_at + 1; m <= refit_at + calls; ++m) {
    const double ms = Milliseconds(*gp, all, m, 1);
    if (algorithms::gp::IsSchedulePoint(m)) {
      cell.refit = std::max(cell.refit, ms);
    } else {
      steady.push_back(ms);
    }
    cell.max = std::max(cell.max, ms);
  }
  cell.batch8 = Milliseconds(*gp, all, refit_at + calls, 8);
  cell.max = std::max({cell.max, cell.refit, cell.batch8});
  if (steady.empty()) {
    // Every trial refits (n <= 50).
    cell.p50 = cell.p95 = cell.amortised = cell.refit;
    return cell;
  }
  cell.p50 = Percentile(steady, 50);
  cell.p95 = Percentile(steady, 95);
  double mean = 0;
  for (double ms : steady) mean += ms;
  mean /= steady.size();
  cell.amortised = mean + (cell.refit - mean) / cell.period;
  return cell;
}

}  // namespace
}  // namespace vernier::bench

int main(int argc, char** argv) {
  using namespace vernier::bench;
  CLI::App app("Suggestion latency of gp against Optuna TPE");
  bool quick = false, no_optuna = false;
  std::vector<int> dims = {2, 6, 10, 20};
  std::vector<int> sizes = {50, 100, 200, 500, 1000};
  app.add_flag("--quick", quick, "5 timed suggestions per cell instead of 20");
  app.add_option("--dims", dims, "dimensions");
  app.add_option("--sizes", sizes, "observed trials");
  app.add_flag("--no-optuna", no_optuna, "skip Optuna");
  CLI11_PARSE(app, argc, argv);
  const int calls = quick ? 5 : 20;

  std::map<std::pair<int, int>, Cell> cells;
  for (int d : dims) {
    for (int n : sizes) cells[{d, n}] = Measure(d, n, calls);
  }
  std::map<std::pair<int, int>, std::pair<double, double>> optuna;
  if (!no_optuna) {
    auto json = RunPythonForJson(
        VERNIER_BENCH_DIR "/bo_optuna.py",
        absl::StrCat("latency --dims ", absl::StrJoin(dims, ","), " --sizes ",
                     absl::StrJoin(sizes, ","), " --repeats ", quick ? 5 : 20));
    if (!json.ok()) {
      std::fprintf(stderr, "optuna: %s\n", json.status().ToString().c_str());
    } else {
      for (const auto& row : (*json)["latency"]) {
        optuna[{row["d"].get<int>(), row["n"].get<int>()}] = {
            row["p50_ms"].get<double>(), row["p95_ms"].get<double>()};
      }
    }
  }

  std::printf("gp: ms per suggestion (steady p50 / p95 between refits; the "
              "call that refits; amortised = mean + refit share; batch of 8)\n\n");
  std::printf("| d | n | p50 | p95 | refit call | refit every | amortised | batch of 8 | TPE p50 | TPE p95 |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  double worst = 0;
  for (const auto& [key, c] : cells) {
    const auto it = optuna.find(key);
    std::printf("| %d | %d | %.1f | %.1f | %.1f | %d | %.1f | %.1f | %s | %s |\n",
                key.first, key.second, c.p50, c.p95, c.refit, c.period,
                c.amortised, c.batch8,
                it == optuna.end() ? "n/a" : absl::StrCat(absl::SixDigits(it->second.first)).c_str(),
                it == optuna.end() ? "n/a" : absl::StrCat(absl::SixDigits(it->second.second)).c_str());
    worst = std::max(worst, c.max);
  }
  bool met = true;
  std::printf("\ntargets (amortised):\n");
  for (auto [d, n, limit] : {std::tuple{6, 100, 20.0}, std::tuple{10, 500, 150.0},
                             std::tuple{20, 1000, 500.0}}) {
    const auto it = cells.find({d, n});
    if (it == cells.end()) continue;
    const bool ok = it->second.amortised <= limit && it->second.p95 <= limit;
    met = met && ok;
    std::printf("  %s n=%d d=%d: amortised %.1f ms, p95 %.1f ms (<= %.0f ms)\n",
                ok ? "met   " : "MISSED", n, d, it->second.amortised,
                it->second.p95, limit);
  }
  std::printf("  %s slowest call of all (refits and batches included): %.0f ms (<= 2000 ms)\n",
              worst <= 2000 ? "met   " : "MISSED", worst);
  return met && worst <= 2000 ? 0 : 1;
}
