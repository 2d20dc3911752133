#include "algorithms/gp/acquisition_optimizer.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numbers>

#include "algorithms/gp/nlopt_adapter.h"
#include "algorithms/gp/sobol.h"
#include "algorithms/rng.h"

namespace vernier::algorithms::gp {
namespace {

// A standard normal deviate by Box-Muller (portable, unlike
// std::normal_distribution).
double Normal(std::mt19937_64& engine) {
  const double u = UniformDoubleOpenZero(engine);
  const double v = UniformDouble(engine);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2 * std::numbers::pi * v);
}

double Score(const GpModel& model, const Acquisition& acquisition,
             const CostPenalty* cost, const Eigen::VectorXd& features) {
  const Prediction p = model.Predict(features);
  const double value =
      AcquisitionValue(acquisition, p.mean, p.variance, nullptr, nullptr);
  if (cost == nullptr) return value;
  return value - cost->weight * cost->model->Predict(features).mean;
}

// L-BFGS over the continuous features of `point`, in place.
void RefineContinuous(const GpModel& model, const Encoding& encoding,
                      const Acquisition& acquisition, const CostPenalty* cost,
                      int max_evaluations, ScoredPoint& point) {
  const std::vector<int>& free = encoding.continuous();
  if (free.empty()) return;
  Eigen::VectorXd features = point.features;
  const Objective objective = [&](const std::vector<double>& x,
                                  std::vector<double>& gradient) {
    for (size_t i = 0; i < free.size(); ++i) features[free[i]] = x[i];
    const PredictionWithGradient p = model.PredictWithGradient(features);
    double d_mean = 0, d_variance = 0;
    double value = AcquisitionValue(acquisition, p.mean, p.variance, &d_mean,
                                    &d_variance);
    for (size_t i = 0; i < gradient.size(); ++i) {
      gradient[i] = -(d_mean * p.mean_gradient[free[i]] +
                      d_variance * p.variance_gradient[free[i]]);
    }
    if (cost != nullptr) {
      const PredictionWithGradient c = cost->model->PredictWithGradient(features);
      value -= cost->weight * c.mean;
      for (size_t i = 0; i < gradient.size(); ++i) {
        gradient[i] += cost->weight * c.mean_gradient[free[i]];
      }
    }
    return -value;
  };
  std::vector<double> start;
  for (int j : free) start.push_back(point.features[j]);
  absl::StatusOr<Minimum> minimum =
      MinimizeWithLbfgs(objective, start, std::vector<double>(free.size(), 0.0),
                        std::vector<double>(free.size(), 1.0), max_evaluations,
                        1e-9);
  if (!minimum.ok() || -minimum->value <= point.value) return;
  for (size_t i = 0; i < free.size(); ++i) {
    point.features[free[i]] = minimum->x[i];
  }
  point.value = -minimum->value;
}

// One pass of coordinate search over the features that are not continuous.
void RefineDiscrete(const GpModel& model, const Encoding& encoding,
                    const Acquisition& acquisition, const CostPenalty* cost,
                    ScoredPoint& point) {
  for (int j = 0; j < encoding.dimensions(); ++j) {
    for (double value : encoding.Neighbours(j, point.features[j])) {
      Eigen::VectorXd moved = point.features;
      moved[j] = value;
      const double score = Score(model, acquisition, cost, moved);
      if (score > point.value) {
        point.features = std::move(moved);
        point.value = score;
      }
    }
  }
}

}  // namespace

std::vector<ScoredPoint> MaximiseAcquisition(
    const GpModel& model, const Encoding& encoding,
    const Acquisition& acquisition, const CostPenalty* cost,
    const std::vector<Eigen::VectorXd>& incumbents,
    const OptimizerOptions& options, uint64_t sobol_seed,
    std::mt19937_64& engine) {
  const int d = encoding.dimensions();
  std::vector<std::vector<double>> units;
  SobolSequence sobol(d, sobol_seed);
  for (int i = 0; i < options.candidates; ++i) {
    units.push_back(sobol.Point(static_cast<uint32_t>(i)));
  }
  for (const Eigen::VectorXd& incumbent : incumbents) {
    const std::vector<double> centre = encoding.Unit(incumbent);
    for (int i = 0; i < options.local_per_incumbent; ++i) {
      const double sd = i % 2 == 0 ? 0.02 : 0.1;
      std::vector<double> unit = centre;
      for (int j = 0; j < d; ++j) {
        if (encoding.categorical()[j]) {
          if (UniformDouble(engine) * d < 1) unit[j] = UniformDouble(engine);
        } else {
          unit[j] = std::clamp(unit[j] + sd * Normal(engine), 0.0, 1.0);
        }
      }
      units.push_back(std::move(unit));
    }
  }
  Eigen::MatrixXd features(d, static_cast<Eigen::Index>(units.size()));
  for (size_t c = 0; c < units.size(); ++c) {
    features.col(c) = encoding.Features(units[c]);
  }
  Eigen::VectorXd means, variances;
  model.PredictMany(features, &means, &variances);
  Eigen::VectorXd cost_means, cost_variances;
  if (cost != nullptr) {
    cost->model->PredictMany(features, &cost_means, &cost_variances);
  }
  std::vector<ScoredPoint> scored;
  scored.reserve(units.size());
  for (size_t c = 0; c < units.size(); ++c) {
    double value = AcquisitionValue(acquisition, means[c], variances[c],
                                    nullptr, nullptr);
    if (cost != nullptr) value -= cost->weight * cost_means[c];
    scored.push_back({features.col(c), value});
  }
  auto better = [](const ScoredPoint& a, const ScoredPoint& b) {
    return a.value > b.value;
  };
  std::stable_sort(scored.begin(), scored.end(), better);

  std::vector<ScoredPoint> refined;
  for (const ScoredPoint& candidate : scored) {
    if (static_cast<int>(refined.size()) >= options.local_starts) break;
    const bool seen = std::any_of(
        refined.begin(), refined.end(), [&](const ScoredPoint& r) {
          return r.features == candidate.features;
        });
    if (seen) continue;
    ScoredPoint point = candidate;
    RefineContinuous(model, encoding, acquisition, cost,
                     options.max_evaluations, point);
    RefineDiscrete(model, encoding, acquisition, cost, point);
    refined.push_back(std::move(point));
  }
  refined.insert(refined.end(), std::make_move_iterator(scored.begin()),
                 std::make_move_iterator(scored.end()));
  std::stable_sort(refined.begin(), refined.end(), better);
  return refined;
}

bool InBox(const Encoding& encoding, const Eigen::VectorXd& centre,
           double half_width, const Eigen::VectorXd& x) {
  for (int j = 0; j < encoding.dimensions(); ++j) {
    if (!encoding.categorical()[j] && std::abs(x[j] - centre[j]) > half_width) {
      return false;
    }
  }
  return true;
}

std::vector<ScoredPoint> MaximiseAcquisitionNear(
    const GpModel& model, const Encoding& encoding,
    const Acquisition& acquisition, const CostPenalty* cost,
    const Eigen::VectorXd& centre, double half_width,
    const OptimizerOptions& options, std::mt19937_64& engine) {
  OptimizerOptions local = options;
  local.candidates = 0;
  std::vector<ScoredPoint> ranked = MaximiseAcquisition(
      model, encoding, acquisition, cost, {centre}, local, 0, engine);
  std::erase_if(ranked, [&](const ScoredPoint& point) {
    return !InBox(encoding, centre, half_width, point.features);
  });
  return ranked;
}

int SeparatedFromBest(const std::vector<Eigen::VectorXd>& ranked,
                      const Matern52Kernel& kernel, double min_distance) {
  for (size_t i = 1; i < ranked.size(); ++i) {
    if (kernel.ScaledSquaredDistance(ranked[i], ranked[0]) >=
        min_distance * min_distance) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace vernier::algorithms::gp
