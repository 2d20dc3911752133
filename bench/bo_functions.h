// The test functions of bench/bo_quality (and bo_optuna.py, which must agree):
// Branin (2-d), Hartmann6 (6-d), Rosenbrock (4-d on [-5, 10]^4) and Ackley
// (5-d on [-32.768, 32.768]^5), with their bounds and known minima
// (Surjanovic & Bingham, Virtual Library of Simulation Experiments).
#ifndef VERNIER_BENCH_BO_FUNCTIONS_H_
#define VERNIER_BENCH_BO_FUNCTIONS_H_

#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

namespace vernier::bench {

struct TestFunction {
  std::string name;
  std::vector<std::pair<double, double>> bounds;
  double minimum;
  std::function<double(const std::vector<double>&)> f;
};

inline double Branin(const std::vector<double>& x) {
  const double pi = std::numbers::pi;
  const double b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
  return std::pow(x[1] - b * x[0] * x[0] + c * x[0] - 6, 2) +
         10 * (1 - t) * std::cos(x[0]) + 10;
}

inline double Hartmann6(const std::vector<double>& x) {
  static constexpr double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                      {0.05, 10, 17, 0.1, 8, 14},
                                      {3, 3.5, 1.7, 10, 17, 8},
                                      {17, 8, 0.05, 10, 0.1, 14}};
  static constexpr double kP[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                      {2329, 4135, 8307, 3736, 1004, 9991},
                                      {2348, 1451, 3522, 2883, 3047, 6650},
                                      {4047, 8828, 8732, 5743, 1091, 381}};
  static constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  double total = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) {
      inner += kA[i][j] * std::pow(x[j] - kP[i][j] * 1e-4, 2);
    }
    total += kAlpha[i] * std::exp(-inner);
  }
  return -total;
}

inline double Rosenbrock(const std::vector<double>& x) {
  double total = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    total += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  }
  return total;
}

inline double Ackley(const std::vector<double>& x) {
  const double d = static_cast<double>(x.size());
  double s1 = 0, s2 = 0;
  for (double v : x) {
    s1 += v * v;
    s2 += std::cos(2 * std::numbers::pi * v);
  }
  return -20 * std::exp(-0.2 * std::sqrt(s1 / d)) - std::exp(s2 / d) + 20 +
         std::numbers::e;
}

inline std::vector<TestFunction> TestFunctions() {
  return {
      {"branin", {{-5, 10}, {0, 15}}, 0.397887357729738, Branin},
      {"hartmann6", std::vector<std::pair<double, double>>(6, {0, 1}),
       -3.32236801141551, Hartmann6},
      {"rosenbrock4", std::vector<std::pair<double, double>>(4, {-5, 10}), 0,
       Rosenbrock},
      {"ackley5", std::vector<std::pair<double, double>>(5, {-32.768, 32.768}),
       0, Ackley},
  };
}

}  // namespace vernier::bench

#endif  // VERNIER_BENCH_BO_FUNCTIONS_H_
