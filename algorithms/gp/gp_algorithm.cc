#include "algorithms/gp/gp_algorithm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "Eigen/Core"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "algorithms/gp/acquisition.h"
#include "algorithms/gp/acquisition_optimizer.h"
#include "algorithms/gp/encoding.h"
#include "algorithms/gp/fit.h"
#include "algorithms/gp/gp_settings.h"
#include "algorithms/gp/likelihood.h"
#include "algorithms/gp/model.h"
#include "algorithms/gp/refit_schedule.h"
#include "algorithms/gp/sobol.h"
#include "algorithms/rng.h"
#include "spdlog/spdlog.h"

namespace vernier::algorithms {
namespace {

using gp::GpModel;
using v1::Trial;

// Fits use at most this many observations.
constexpr int kMaxFitPoints = 160;
// Past this many observations the acquisition search shrinks (see EffortFor).
constexpr int kFullEffortUpTo = 300;
constexpr int kIncumbents = 5;
// Draws tried before a suggestion gives up finding an unused assignment.
constexpr int kMaxAttempts = 1000;

// Second-basin search (gp_algorithm.h). A step is taken on even trial
// numbers once the best value has not improved for kStallObservations
// observations: half the trials keep refining the best basin.
constexpr int kSecondBasinEvery = 2;
constexpr int kStallObservations = 10;
// The centre is the best observation at scaled distance >= 2 from the best
// (kernel correlation below 0.14), so the two are different basins as the
// global model sees them.
constexpr double kBasinSeparation = 2.0;
// The local model: the centre's nearest observations, and the half-width of
// the box (in the unit cube) its acquisition is maximised in.
constexpr int kLocalPoints = 30;
constexpr double kLocalHalfWidth = 0.2;
constexpr int kLocalCandidates = 512;

// One observation, in minimisation orientation; `value` is NaN for an
// infeasible trial (its value is imputed from the others).
struct Observation {
  int number = 0;
  double value = 0;
  Eigen::VectorXd features;
};

// One trial's cost (cost-aware search), in the order trials ended.
struct CostObservation {
  int number = 0;
  double log_cost = 0;
  Eigen::VectorXd features;
};

// What identifies an observation in a memoised fit or factor.
using ObservationId = std::pair<int, uint64_t>;

ObservationId IdOf(const Observation& o) {
  return {o.number, std::bit_cast<uint64_t>(o.value)};
}

std::vector<ObservationId> IdsOf(const std::vector<Observation>& observations,
                                 int count) {
  std::vector<ObservationId> ids;
  ids.reserve(count);
  for (int i = 0; i < count; ++i) ids.push_back(IdOf(observations[i]));
  return ids;
}

bool IsPrefix(const std::vector<ObservationId>& prefix,
              const std::vector<ObservationId>& of) {
  return prefix.size() <= of.size() &&
         std::equal(prefix.begin(), prefix.end(), of.begin());
}

// The model's targets for `observations`: infeasible ones imputed with the
// worst finite value, then warped (below) and standardised.
Eigen::VectorXd Targets(const std::vector<const Observation*>& observations) {
  const Eigen::Index n = static_cast<Eigen::Index>(observations.size());
  double worst = -std::numeric_limits<double>::infinity();
  for (const Observation* o : observations) {
    if (!std::isnan(o->value)) worst = std::max(worst, o->value);
  }
  if (!std::isfinite(worst)) worst = 0;
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    y[i] = std::isnan(observations[i]->value) ? worst : observations[i]->value;
  }
  if (n == 0) return y;
  // Warp: log1p((y - best) / median(y - best)), monotone, so objectives
  // whose bad values are orders of magnitude away (Rosenbrock, losses that
  // diverge) do not flatten the model's view of the good region.
  const double lo = y.minCoeff();
  std::vector<double> above(y.data(), y.data() + n);
  for (double& v : above) v -= lo;
  std::nth_element(above.begin(), above.begin() + n / 2, above.end());
  const double scale = above[n / 2];
  if (scale > 0) y = ((y.array() - lo) / scale).log1p().matrix();
  const double mean = y.mean();
  const double sd = std::sqrt((y.array() - mean).square().mean());
  return (y.array() - mean) / (sd > 1e-12 ? sd : 1.0);
}

// Observations since the best value (the lowest) last improved: all of them
// when none has a value. Infeasible ones never improve it.
int ObservationsSinceImprovement(const std::vector<Observation>& observations) {
  double best = std::numeric_limits<double>::infinity();
  int since = 0;
  for (const Observation& o : observations) {
    if (o.value < best) {  // false for NaN
      best = o.value;
      since = 0;
    } else {
      ++since;
    }
  }
  return since;
}

std::vector<const Observation*> Pointers(
    const std::vector<Observation>& observations, int count) {
  std::vector<const Observation*> out;
  out.reserve(count);
  for (int i = 0; i < count; ++i) out.push_back(&observations[i]);
  return out;
}

double StandardDeviation(const Eigen::VectorXd& y) {
  return std::sqrt((y.array() - y.mean()).square().mean());
}

// `y` less its mean, over its standard deviation (over 1 when that is ~0).
// A fit is standardised by its own data only, so a memoised fit equals the
// one a fresh instance computes.
Eigen::VectorXd Standardised(const Eigen::VectorXd& y) {
  const double sd = StandardDeviation(y);
  return ((y.array() - y.mean()) / (sd > 1e-12 ? sd : 1.0)).matrix();
}

gp::OptimizerOptions EffortFor(int n, int candidates) {
  gp::OptimizerOptions options;
  options.candidates = candidates;
  if (n > kFullEffortUpTo) {
    const double shrink = static_cast<double>(kFullEffortUpTo) / n;
    options.candidates =
        std::max(256, static_cast<int>(candidates * shrink * shrink));
    options.local_starts = 3;
    options.max_evaluations = 25;
    options.local_per_incumbent = 32;
  }
  return options;
}

class GpAlgorithm final : public Algorithm {
 public:
  GpAlgorithm(SearchSpace space, bool minimise, uint64_t seed,
              gp::GpSettings settings, std::optional<double> max_cost,
              std::function<void(absl::Duration)> on_model_fit)
      : space_(std::move(space)),
        encoding_(space_),
        minimise_(minimise),
        seed_(seed),
        settings_(settings),
        max_cost_(max_cost),
        on_model_fit_(std::move(on_model_fit)) {}

  absl::StatusOr<std::vector<Assignment>> Suggest(
      const std::vector<Trial>& history, int count) override {
    if (count < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot suggest ", count, " trials"));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    Read(history);
    std::vector<Assignment> suggestions;
    std::mt19937_64 engine(SplitMix64(
        SplitMix64(seed_ ^ 0x6770) ^ static_cast<uint64_t>(history.size())));
    int finite = 0;
    for (const Observation& o : observations_) finite += !std::isnan(o.value);
    bool model_ready = false;
    const bool stalled =
        settings_.second_basin &&
        ObservationsSinceImprovement(observations_) >= kStallObservations;
    // At most one second-basin step per batch: the local model does not see
    // the batch's fantasies, so a second one would land next to the first.
    bool second_basin_taken = false;
    for (int b = 0; b < count; ++b) {
      const int global = static_cast<int>(history.size()) + b;
      std::optional<Assignment> next;
      if (global >= settings_.initial_trials && finite >= 2) {
        if (!model_ready) {
          absl::Status status = PrepareModel();
          if (!status.ok()) {
            spdlog::warn("gp: {}; suggesting from the Sobol design",
                         std::string(status.message()));
          }
          PrepareCostModel();
          model_ready = true;
        }
        if (model_.has_value() && stalled && !second_basin_taken &&
            (global + 1) % kSecondBasinEvery == 0) {
          next = FromSecondBasin(global, engine);
          second_basin_taken = next.has_value();
        }
        if (model_.has_value() && !next.has_value()) {
          next = FromModel(global, engine);
        }
      }
      if (!next.has_value()) {
        next = FromDesign(global, engine);
        if (!next.has_value()) break;
        // The design's points of this batch are fantasies for the model's
        // points after them: now if the model is up, else when it is built.
        absl::StatusOr<std::vector<double>> unit = space_.ToUnit(*next);
        if (unit.ok()) {
          Eigen::VectorXd features = encoding_.Features(*unit);
          if (model_ready && model_.has_value()) {
            AddFantasy(features).IgnoreError();
          } else {
            fantasies_.push_back(std::move(features));
          }
        }
      }
      suggestions.push_back(*std::move(next));
    }
    ReleaseFantasies();
    return suggestions;
  }

 private:
  // Fills observations_ (ordered by end time, then number), fantasies_ and
  // used_ from the history.
  void Read(const std::vector<Trial>& history) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    struct Ordered {
      std::tuple<int64_t, int32_t, int> order;
      Observation observation;
    };
    std::vector<Ordered> ordered;
    struct RunCost {
      std::tuple<int64_t, int32_t, int> order;
      double money = 0;
      double seconds = 0;
      Eigen::VectorXd features;
    };
    std::vector<RunCost> run_costs;
    fantasies_.clear();
    used_.clear();
    spent_ = 0;
    spent_on_design_ = 0;
    for (const Trial& trial : history) {
      spent_ += trial.cost();
      if (trial.number() <= settings_.initial_trials) {
        spent_on_design_ += trial.cost();
      }
      used_.insert(space_.Key(trial.parameters()));
      absl::StatusOr<std::vector<double>> unit =
          space_.ToUnit(trial.parameters());
      if (!unit.ok()) {
        spdlog::warn("gp: trial {} does not fit the space ({}); ignored",
                     trial.number(), std::string(unit.status().message()));
        continue;
      }
      Observation o{trial.number(), 0, encoding_.Features(*unit)};
      if (settings_.cost_aware && (trial.state() == Trial::SUCCEEDED ||
                                   trial.state() == Trial::INFEASIBLE)) {
        run_costs.push_back(
            {{trial.end_time().seconds(), trial.end_time().nanos(),
              trial.number()},
             trial.cost(),
             static_cast<double>(trial.end_time().seconds() -
                                 trial.start_time().seconds()) +
                 1e-9 * (trial.end_time().nanos() - trial.start_time().nanos()),
             o.features});
      }
      const bool has_value =
          trial.has_objective() && std::isfinite(trial.objective());
      switch (trial.state()) {
        case Trial::SUCCEEDED:
        case Trial::STOPPED:
        case Trial::INFEASIBLE:
          if (has_value && trial.state() != Trial::INFEASIBLE) {
            o.value = minimise_ ? trial.objective() : -trial.objective();
          } else if (trial.state() == Trial::STOPPED) {
            fantasies_.push_back(std::move(o.features));
            continue;
          } else {
            o.value = std::numeric_limits<double>::quiet_NaN();
          }
          ordered.push_back({{trial.end_time().seconds(),
                              trial.end_time().nanos(), trial.number()},
                             std::move(o)});
          break;
        default:  // PENDING, RUNNING, FAILED
          fantasies_.push_back(std::move(o.features));
          break;
      }
    }
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const Ordered& a, const Ordered& b) {
                       return a.order < b.order;
                     });
    observations_.clear();
    for (Ordered& o : ordered) observations_.push_back(std::move(o.observation));

    std::stable_sort(run_costs.begin(), run_costs.end(),
                     [](const RunCost& a, const RunCost& b) {
                       return a.order < b.order;
                     });
    const bool priced = std::all_of(
        run_costs.begin(), run_costs.end(),
        [](const RunCost& c) { return c.money > 0; });
    costs_.clear();
    for (RunCost& c : run_costs) {
      const double cost = priced ? c.money : c.seconds;
      if (!(cost > 0) || !std::isfinite(cost)) continue;
      costs_.push_back(
          {std::get<2>(c.order), std::log(cost), std::move(c.features)});
    }
  }

  // gp::FitHyperparameters, its duration told to on_model_fit_.
  Eigen::VectorXd TimedFit(const Eigen::MatrixXd& points,
                           const Eigen::VectorXd& targets,
                           const std::optional<Eigen::VectorXd>& warm,
                           const gp::FitOptions& options,
                           std::mt19937_64& engine) {
    const absl::Time start = absl::Now();
    Eigen::VectorXd theta = gp::FitHyperparameters(
        points, targets, encoding_.categorical(), warm, options, engine);
    if (on_model_fit_) on_model_fit_(absl::Now() - start);
    return theta;
  }

  // The hyperparameters at schedule point `s`, fitted (and memoised) on the
  // first s observations.
  Eigen::VectorXd ThetaAt(int s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    std::vector<ObservationId> ids = IdsOf(observations_, s);
    const auto found = fits_.find(s);
    if (found != fits_.end() && found->second.first == ids) {
      return found->second.second;
    }
    std::optional<Eigen::VectorXd> warm;
    gp::FitOptions options;
    options.noise_floor = settings_.noise_floor;
    if (gp::IsAnchor(s)) {
      options.random_starts = 1;
      options.max_evaluations = 60;
    } else {
      warm = ThetaAt(gp::PreviousSchedulePoint(s));
      options.random_starts = 0;
      options.max_evaluations = 40;
    }
    // The fit's data: all s observations, or the best and latest of them.
    std::vector<const Observation*> chosen = Pointers(observations_, s);
    if (s > kMaxFitPoints) {
      std::vector<int> order(s);
      for (int i = 0; i < s; ++i) order[i] = i;
      auto key = [&](int i) {
        const double v = observations_[i].value;
        return std::isnan(v) ? std::numeric_limits<double>::infinity() : v;
      };
      std::stable_sort(order.begin(), order.end(),
                       [&](int a, int b) { return key(a) < key(b); });
      std::vector<bool> take(s, false);
      for (int i = 0; i < kMaxFitPoints / 2; ++i) take[order[i]] = true;
      int latest = 0;
      for (int i = s - 1; i >= 0 && latest < kMaxFitPoints / 2; --i) {
        if (!take[i]) {
          take[i] = true;
          ++latest;
        }
      }
      chosen.clear();
      for (int i = 0; i < s; ++i) {
        if (take[i]) chosen.push_back(&observations_[i]);
      }
    }
    Eigen::MatrixXd points(encoding_.dimensions(), chosen.size());
    for (size_t i = 0; i < chosen.size(); ++i) {
      points.col(i) = chosen[i]->features;
    }
    std::mt19937_64 engine(SplitMix64(seed_ ^ SplitMix64(s)));
    Eigen::VectorXd theta =
        TimedFit(points, Targets(chosen), warm, options, engine);
    fits_[s] = {std::move(ids), theta};
    return theta;
  }

  // Brings model_ to the observations (factor rebuilt at the last schedule
  // point, grown since), sets its targets, then adds the fantasies.
  absl::Status PrepareModel() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    const int n = static_cast<int>(observations_.size());
    const int s = gp::LastSchedulePoint(n);
    const std::vector<ObservationId> ids = IdsOf(observations_, n);
    const bool reusable = model_.has_value() && model_point_ == s &&
                          IsPrefix(model_ids_, ids);
    if (!reusable) {
      const Eigen::VectorXd theta = ThetaAt(s);
      model_.emplace(gp::KernelFromTheta(encoding_.categorical(), theta),
                     gp::NoiseFromTheta(theta));
      model_point_ = s;
      model_ids_.clear();
      Eigen::MatrixXd points(encoding_.dimensions(), s);
      for (int i = 0; i < s; ++i) points.col(i) = observations_[i].features;
      if (absl::Status status = model_->Factorise(points, Eigen::VectorXd::Zero(s));
          !status.ok()) {
        model_.reset();
        return status;
      }
      model_ids_ = IdsOf(observations_, s);
    }
    for (int i = static_cast<int>(model_ids_.size()); i < n; ++i) {
      if (absl::Status status = model_->Append(observations_[i].features, 0);
          !status.ok()) {
        model_.reset();
        return status;
      }
      model_ids_.push_back(IdOf(observations_[i]));
    }
    const Eigen::VectorXd targets = Targets(Pointers(observations_, n));
    model_->SetTargets(targets);
    best_target_ = std::numeric_limits<double>::infinity();
    std::vector<std::pair<double, int>> ranked;
    for (int i = 0; i < n; ++i) {
      if (std::isnan(observations_[i].value)) continue;
      best_target_ = std::min(best_target_, targets[i]);
      ranked.emplace_back(targets[i], i);
    }
    std::stable_sort(ranked.begin(), ranked.end());
    incumbents_.clear();
    for (size_t i = 0; i < ranked.size() && i < kIncumbents; ++i) {
      incumbents_.push_back(observations_[ranked[i].second].features);
    }
    real_jitter_ = model_->jitter();
    for (const Eigen::VectorXd& point : fantasies_) {
      if (absl::Status status = AddFantasy(point); !status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // A fantasy at `point`: the model's mean there, but never better than the
  // mean of the observations (0 in standardised units): kriging believer
  // where the model predicts a poor value, a constant liar at the average
  // where it predicts a good one. Believing a predicted improvement, or lying
  // only at the best value, leaves expected improvement right next to the
  // fantasy when the model is confident, and a batch piles up in one spot.
  absl::Status AddFantasy(const Eigen::VectorXd& point)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    const double mean = std::max(model_->Predict(point).mean, 0.0);
    absl::Status status = model_->Append(point, mean);
    if (!status.ok()) model_.reset();
    return status;
  }

  // Drops the fantasies; the factor of the observations is exact again unless
  // a fantasy forced more jitter, in which case it is rebuilt next time.
  void ReleaseFantasies() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (!model_.has_value()) return;
    model_->Truncate(static_cast<int>(model_ids_.size()));
    if (model_->jitter() != real_jitter_) model_.reset();
  }

  // Fits cost_model_ to the latest costs_ (hyperparameters from the
  // schedule point of their count, memoised like the objective's), or
  // leaves it empty: not cost-aware, fewer than two costs, or all alike.
  void PrepareCostModel() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    cost_model_.reset();
    const int m = static_cast<int>(costs_.size());
    if (!settings_.cost_aware || m < 2) return;
    const int first = std::max(0, m - kMaxFitPoints);
    auto data = [&](int from, int to, Eigen::MatrixXd* points,
                    Eigen::VectorXd* targets) {
      points->resize(encoding_.dimensions(), to - from);
      targets->resize(to - from);
      for (int i = from; i < to; ++i) {
        points->col(i - from) = costs_[i].features;
        (*targets)[i - from] = costs_[i].log_cost;
      }
    };
    Eigen::MatrixXd points;
    Eigen::VectorXd log_costs;
    data(first, m, &points, &log_costs);
    const double sd = StandardDeviation(log_costs);
    if (sd < 1e-9) return;

    const int s = gp::LastSchedulePoint(m);
    std::vector<ObservationId> ids;
    for (int i = 0; i < s; ++i) {
      ids.emplace_back(costs_[i].number,
                       std::bit_cast<uint64_t>(costs_[i].log_cost));
    }
    auto& [fitted_ids, theta] = cost_fits_[s];
    if (fitted_ids != ids || theta.size() == 0) {
      Eigen::MatrixXd fit_points;
      Eigen::VectorXd fit_targets;
      data(std::max(0, s - kMaxFitPoints), s, &fit_points, &fit_targets);
      gp::FitOptions options;
      std::mt19937_64 engine(SplitMix64(seed_ ^ 0xc057 ^ SplitMix64(s)));
      theta = TimedFit(fit_points, Standardised(fit_targets), std::nullopt,
                       options, engine);
      fitted_ids = std::move(ids);
    }
    cost_model_.emplace(gp::KernelFromTheta(encoding_.categorical(), theta),
                        gp::NoiseFromTheta(theta));
    if (!cost_model_->Factorise(points, Standardised(log_costs)).ok()) {
      spdlog::warn("gp: the cost model could not be factorised; this "
                   "suggestion ignores cost");
      cost_model_.reset();
      return;
    }
    const double alpha =
        max_cost_.has_value() && *max_cost_ > spent_on_design_
            ? std::clamp((*max_cost_ - spent_) /
                             (*max_cost_ - spent_on_design_),
                         0.0, 1.0)
            : 1.0;
    cost_weight_ = alpha * sd;
  }

  std::optional<Assignment> FromModel(int global, std::mt19937_64& engine)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    gp::Acquisition acquisition;
    acquisition.kind = settings_.acquisition;
    acquisition.beta = settings_.beta;
    acquisition.best = best_target_;
    const gp::CostPenalty cost{
        cost_model_.has_value() ? &*cost_model_ : nullptr, cost_weight_};
    const std::vector<gp::ScoredPoint> ranked = gp::MaximiseAcquisition(
        *model_, encoding_, acquisition,
        cost.model != nullptr ? &cost : nullptr, incumbents_,
        EffortFor(static_cast<int>(observations_.size()), settings_.candidates),
        SplitMix64(seed_ ^ SplitMix64(0x50b0 + global)), engine);
    for (const gp::ScoredPoint& point : ranked) {
      Assignment assignment = space_.FromUnit(encoding_.Unit(point.features));
      if (!used_.insert(space_.Key(assignment)).second) continue;
      if (!AddFantasy(point.features).ok()) {
        spdlog::warn("gp: could not add a fantasy; the batch continues from "
                     "the Sobol design");
      }
      return assignment;
    }
    return std::nullopt;
  }

  // A step of local search in the second basin (gp_algorithm.h): log EI of a
  // GP fitted to the kLocalPoints observations nearest its centre, maximised
  // in a box around the centre. nullopt when there is no second basin, a
  // pending trial already lies in its box, or every point found is used.
  std::optional<Assignment> FromSecondBasin(int global, std::mt19937_64& engine)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    const int n = static_cast<int>(observations_.size());
    std::vector<int> order;
    for (int i = 0; i < n; ++i) {
      if (!std::isnan(observations_[i].value)) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return observations_[a].value < observations_[b].value;
    });
    std::vector<Eigen::VectorXd> ranked;
    for (int i : order) ranked.push_back(observations_[i].features);
    const int separated =
        gp::SeparatedFromBest(ranked, model_->kernel(), kBasinSeparation);
    if (separated < 0) return std::nullopt;
    const Eigen::VectorXd& centre = ranked[separated];
    // A pending trial there is a local step in flight: wait for its result.
    if (std::any_of(fantasies_.begin(), fantasies_.end(),
                    [&](const Eigen::VectorXd& x) {
                      return gp::InBox(encoding_, centre, kLocalHalfWidth, x);
                    })) {
      return std::nullopt;
    }

    std::vector<std::pair<double, int>> by_distance;
    for (int i = 0; i < n; ++i) {
      by_distance.emplace_back(
          (observations_[i].features - centre).squaredNorm(), i);
    }
    std::stable_sort(by_distance.begin(), by_distance.end());
    const int m = std::min(n, kLocalPoints);
    std::vector<const Observation*> nearest;
    Eigen::MatrixXd points(encoding_.dimensions(), m);
    for (int i = 0; i < m; ++i) {
      nearest.push_back(&observations_[by_distance[i].second]);
      points.col(i) = nearest.back()->features;
    }
    const Eigen::VectorXd targets = Targets(nearest);
    gp::FitOptions fit_options;
    fit_options.noise_floor = settings_.noise_floor;
    std::mt19937_64 fit_engine(SplitMix64(seed_ ^ 0xba51 ^ SplitMix64(global)));
    const Eigen::VectorXd theta =
        TimedFit(points, targets, std::nullopt, fit_options, fit_engine);
    GpModel local(gp::KernelFromTheta(encoding_.categorical(), theta),
                  gp::NoiseFromTheta(theta));
    if (!local.Factorise(points, targets).ok()) return std::nullopt;

    gp::Acquisition acquisition;
    acquisition.kind = settings_.acquisition;
    acquisition.beta = settings_.beta;
    acquisition.best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < m; ++i) {
      if (!std::isnan(nearest[i]->value)) {
        acquisition.best = std::min(acquisition.best, targets[i]);
      }
    }
    const gp::CostPenalty cost{
        cost_model_.has_value() ? &*cost_model_ : nullptr, cost_weight_};
    gp::OptimizerOptions options = EffortFor(n, settings_.candidates);
    options.local_per_incumbent = kLocalCandidates;
    const std::vector<gp::ScoredPoint> found = gp::MaximiseAcquisitionNear(
        local, encoding_, acquisition, cost.model != nullptr ? &cost : nullptr,
        centre, kLocalHalfWidth, options, engine);
    for (const gp::ScoredPoint& point : found) {
      Assignment assignment = space_.FromUnit(encoding_.Unit(point.features));
      if (!used_.insert(space_.Key(assignment)).second) continue;
      if (!AddFantasy(point.features).ok()) {
        spdlog::warn(
            "gp: could not add a fantasy; the batch continues from "
            "the Sobol design");
      }
      return assignment;
    }
    return std::nullopt;
  }

  // Point `global` of the Sobol design, or the next unused one after it, or
  // random points; nullopt when kMaxAttempts of each repeat the history.
  std::optional<Assignment> FromDesign(int global, std::mt19937_64& engine)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    gp::SobolSequence design(space_.dimensions(), seed_);
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      Assignment assignment = space_.FromUnit(
          design.Point(static_cast<uint32_t>(global + attempt)));
      if (used_.insert(space_.Key(assignment)).second) return assignment;
    }
    std::vector<double> unit(space_.dimensions());
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      for (double& u : unit) u = UniformDouble(engine);
      Assignment assignment = space_.FromUnit(unit);
      if (used_.insert(space_.Key(assignment)).second) return assignment;
    }
    spdlog::warn("gp: {} draws in a row repeated earlier trials", kMaxAttempts);
    return std::nullopt;
  }

  const SearchSpace space_;
  const gp::Encoding encoding_;
  const bool minimise_;
  const uint64_t seed_;
  const gp::GpSettings settings_;
  // budget.max_cost, for cost cooling; nullopt without a budget.
  const std::optional<double> max_cost_;
  const std::function<void(absl::Duration)> on_model_fit_;

  std::mutex mutex_;
  // Rebuilt from the history by every Suggest.
  std::vector<Observation> observations_ ABSL_GUARDED_BY(mutex_);
  std::vector<Eigen::VectorXd> fantasies_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_set<std::string> used_ ABSL_GUARDED_BY(mutex_);
  std::vector<Eigen::VectorXd> incumbents_ ABSL_GUARDED_BY(mutex_);
  double best_target_ ABSL_GUARDED_BY(mutex_) = 0;
  // Memoised across calls, keyed by the observations they came from.
  std::map<int, std::pair<std::vector<ObservationId>, Eigen::VectorXd>> fits_
      ABSL_GUARDED_BY(mutex_);
  std::optional<GpModel> model_ ABSL_GUARDED_BY(mutex_);
  int model_point_ ABSL_GUARDED_BY(mutex_) = 0;
  // The observations whose rows model_ holds (fantasies excluded).
  std::vector<ObservationId> model_ids_ ABSL_GUARDED_BY(mutex_);
  double real_jitter_ ABSL_GUARDED_BY(mutex_) = 0;

  // Cost-aware search: rebuilt from the history by every Suggest.
  std::vector<CostObservation> costs_ ABSL_GUARDED_BY(mutex_);
  double spent_ ABSL_GUARDED_BY(mutex_) = 0;
  // What the initial design's trials cost (numbers up to initial_trials).
  double spent_on_design_ ABSL_GUARDED_BY(mutex_) = 0;
  std::optional<GpModel> cost_model_ ABSL_GUARDED_BY(mutex_);
  double cost_weight_ ABSL_GUARDED_BY(mutex_) = 0;
  // The cost model's hyperparameters by schedule point (as fits_).
  std::map<int, std::pair<std::vector<ObservationId>, Eigen::VectorXd>>
      cost_fits_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Algorithm>> CreateGpAlgorithm(
    const AlgorithmContext& context) {
  absl::StatusOr<gp::GpSettings> settings =
      gp::ParseGpSettings(context.settings, context.space.dimensions());
  if (!settings.ok()) return settings.status();
  std::optional<double> max_cost;
  if (context.spec.has_budget() && context.spec.budget().max_cost() > 0) {
    max_cost = context.spec.budget().max_cost();
  }
  return std::make_unique<GpAlgorithm>(
      context.space, context.objective.goal() != v1::ObjectiveSpec::MAXIMIZE,
      context.seed, *settings, max_cost, context.on_model_fit);
}

}  // namespace vernier::algorithms
