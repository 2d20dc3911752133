// bench/bo_quality: simple regret of `gp` and `random` (through the same
// Algorithm interface the controller uses) and of Optuna 3.1's TPE sampler
// (default and multivariate, by bo_optuna.py in the same run) on Branin,
// Hartmann6, Rosenbrock-4 and Ackley-5. See bench/README.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "algorithms/algorithm.h"
#include "bench/bo_functions.h"
#include "bench/optuna_side.h"

namespace vernier::bench {
namespace {

using algorithms::AlgorithmContext;
using algorithms::Assignment;

// Best-so-far regret after each budget, for one run.
std::vector<double> RunVernier(const std::string& algorithm,
                               const TestFunction& function, uint64_t seed,
                               const std::vector<int>& budgets) {
  google::protobuf::RepeatedPtrField<v1::ParameterSpec> parameters;
  for (size_t i = 0; i < function.bounds.size(); ++i) {
    v1::ParameterSpec* p = parameters.Add();
    p->set_name(absl::StrCat("x", i));
    p->set_type(v1::ParameterSpec::DOUBLE);
    p->set_min(function.bounds[i].first);
    p->set_max(function.bounds[i].second);
  }
  AlgorithmContext context{.space = *algorithms::SearchSpace::Create(parameters),
                           .seed = seed,
                           .seed_given = true};
  context.objective.set_goal(v1::ObjectiveSpec::MINIMIZE);
  auto created = algorithms::CreateAlgorithm(algorithm, context);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
    std::exit(2);
  }
  std::vector<v1::Trial> history;
  std::vector<double> regrets;
  double best = INFINITY;
  const int budget = *std::max_element(budgets.begin(), budgets.end());
  for (int i = 1; i <= budget; ++i) {
    auto next = (*created)->Suggest(history, 1);
    if (!next.ok() || next->empty()) break;
    std::vector<double> x;
    for (size_t j = 0; j < function.bounds.size(); ++j) {
      x.push_back(next->front().at(absl::StrCat("x", j)).number_value());
    }
    const double value = function.f(x);
    best = std::min(best, value);
    v1::Trial trial;
    trial.set_number(i);
    trial.set_state(v1::Trial::SUCCEEDED);
    *trial.mutable_parameters() = next->front();
    trial.set_objective(value);
    trial.mutable_end_time()->set_seconds(i);
    history.push_back(std::move(trial));
    if (std::find(budgets.begin(), budgets.end(), i) != budgets.end()) {
      regrets.push_back(std::max(0.0, best - function.minimum));
    }
  }
  return regrets;
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double position = q * (values.size() - 1);
  const size_t low = static_cast<size_t>(std::floor(position));
  const size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (position - low) * (values[high] - values[low]);
}

std::string Cell(const std::vector<double>& values) {
  if (values.empty()) return "n/a";
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%.3g [%.3g, %.3g]", Quantile(values, 0.5),
                Quantile(values, 0.25), Quantile(values, 0.75));
  return buffer;
}

}  // namespace
}  // namespace vernier::bench

int main(int argc, char** argv) {
  using namespace vernier::bench;
  CLI::App app("Regret of gp, random and Optuna TPE on standard test functions");
  bool quick = false, no_optuna = false, per_seed = false;
  int seeds = 0;
  std::vector<std::string> only;
  app.add_flag("--quick", quick, "5 seeds, budgets 50 and 100");
  app.add_option("--seeds", seeds, "seeds per function (default 20, 5 quick)");
  app.add_option("--functions", only, "a subset: branin hartmann6 rosenbrock4 ackley5");
  app.add_flag("--no-optuna", no_optuna, "skip Optuna");
  app.add_flag("--per-seed", per_seed,
               "also print gp's regret of every seed at every budget");
  CLI11_PARSE(app, argc, argv);
  if (seeds <= 0) seeds = quick ? 5 : 20;
  const std::vector<int> budgets =
      quick ? std::vector<int>{50, 100} : std::vector<int>{50, 100, 200};
  const std::string script = VERNIER_BENCH_DIR "/bo_optuna.py";

  std::vector<TestFunction> functions;
  for (TestFunction& f : TestFunctions()) {
    if (only.empty() || std::find(only.begin(), only.end(), f.name) != only.end()) {
      functions.push_back(std::move(f));
    }
  }
  // Optuna runs beside the C++ runs, in one background thread.
  std::future<std::map<std::string, std::vector<std::vector<double>>>> optuna;
  if (!no_optuna) {
    optuna = std::async(std::launch::async, [&] {
      std::map<std::string, std::vector<std::vector<double>>> out;
      for (const TestFunction& f : functions) {
        for (const char* sampler : {"tpe", "tpe_mv"}) {
          auto json = RunPythonForJson(
              script, absl::StrCat("quality --function ", f.name, " --sampler ",
                                   sampler, " --seeds ", seeds, " --budgets ",
                                   absl::StrJoin(budgets, ",")));
          if (!json.ok()) {
            std::fprintf(stderr, "optuna: %s\n", json.status().ToString().c_str());
            continue;
          }
          // best[seed][budget] -> regrets[budget][seed].
          std::vector<std::vector<double>> regrets(budgets.size());
          for (const auto& run : (*json)["best"]) {
            for (size_t b = 0; b < budgets.size(); ++b) {
              regrets[b].push_back(
                  std::max(0.0, run[b].get<double>() - f.minimum));
            }
          }
          out[absl::StrCat(f.name, "/", sampler)] = std::move(regrets);
        }
      }
      return out;
    });
  }

  // regrets[function/algorithm][budget index][seed]
  std::map<std::string, std::vector<std::vector<double>>> regrets;
  std::map<std::string, double> seconds;
  for (const TestFunction& f : functions) {
    for (const char* algorithm : {"gp", "random"}) {
      auto& table = regrets[absl::StrCat(f.name, "/", algorithm)];
      table.assign(budgets.size(), {});
      const auto start = std::chrono::steady_clock::now();
      for (int seed = 0; seed < seeds; ++seed) {
        const std::vector<double> run = RunVernier(algorithm, f, seed, budgets);
        if (per_seed && std::string(algorithm) == "gp") {
          std::printf("%s seed %d:", f.name.c_str(), seed);
          for (double r : run) std::printf(" %.3g", r);
          std::printf("\n");
        }
        for (size_t b = 0; b < run.size(); ++b) table[b].push_back(run[b]);
      }
      seconds[absl::StrCat(f.name, "/", algorithm)] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
              .count();
    }
  }
  if (!no_optuna) {
    for (auto& [key, table] : optuna.get()) regrets[key] = std::move(table);
  }

  std::printf("simple regret, median [25%%, 75%%] over %d seeds\n\n", seeds);
  std::printf("| function | evals | gp | random | TPE | TPE multivariate | gp / TPE | gp / TPE mv |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  bool all_met = true;
  std::vector<std::string> verdicts;
  for (const TestFunction& f : functions) {
    for (size_t b = 0; b < budgets.size(); ++b) {
      auto column = [&](const char* algorithm) {
        auto it = regrets.find(absl::StrCat(f.name, "/", algorithm));
        return it == regrets.end() || it->second.size() <= b
                   ? std::vector<double>{}
                   : it->second[b];
      };
      const auto gp = column("gp"), tpe = column("tpe"), tpe_mv = column("tpe_mv");
      auto ratio = [&](const std::vector<double>& other) {
        if (other.empty()) return std::string("n/a");
        const double o = Quantile(other, 0.5);
        const double g = Quantile(gp, 0.5);
        return o == 0 ? std::string("n/a") : absl::StrCat(absl::SixDigits(g / o));
      };
      std::printf("| %s | %d | %s | %s | %s | %s | %s | %s |\n", f.name.c_str(),
                  budgets[b], Cell(gp).c_str(), Cell(column("random")).c_str(),
                  Cell(tpe).c_str(), Cell(tpe_mv).c_str(), ratio(tpe).c_str(),
                  ratio(tpe_mv).c_str());
      auto check = [&](bool met, const std::string& what) {
        all_met = all_met && met;
        verdicts.push_back(absl::StrCat(met ? "met    " : "MISSED ", what));
      };
      const double median = Quantile(gp, 0.5);
      if (budgets[b] == 100 && !tpe.empty() && !tpe_mv.empty()) {
        check(median <= 0.5 * Quantile(tpe, 0.5) &&
                  median <= 0.5 * Quantile(tpe_mv, 0.5),
              absl::StrCat(f.name, ": gp regret at 100 <= half of both TPEs'"));
      }
      if (f.name == "branin" && budgets[b] == 50) {
        check(median <= 1e-3, "branin: median regret <= 1e-3 after 50");
      }
      if (f.name == "hartmann6" && budgets[b] == 100) {
        check(median <= 0.05, "hartmann6: median regret <= 0.05 after 100");
      }
      if (f.name == "hartmann6" && budgets[b] == 200) {
        const double below = std::count_if(gp.begin(), gp.end(),
                                           [](double r) { return r < 0.1; });
        check(below >= 0.75 * gp.size(),
              absl::StrCat("hartmann6: ", below, " of ", gp.size(),
                           " seeds below 0.1 after 200 (>= 75%)"));
      }
    }
  }
  std::printf("\nseconds per function (all seeds):");
  for (const auto& [key, s] : seconds) std::printf(" %s %.1f;", key.c_str(), s);
  std::printf("\n\ntargets:\n");
  for (const std::string& v : verdicts) std::printf("  %s\n", v.c_str());
  return all_met ? 0 : 1;
}
