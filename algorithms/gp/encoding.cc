#include "algorithms/gp/encoding.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace vernier::algorithms::gp {
namespace {

using v1::ParameterSpec;

constexpr int kShortList = 16;

double Clamp(double u) { return std::isnan(u) ? 0.0 : std::clamp(u, 0.0, 1.0); }

int CellIndex(double u, int k) {
  return std::min(static_cast<int>(std::floor(u * k)), k - 1);
}

double CellCentre(int index, int k) { return (index + 0.5) / k; }

}  // namespace

Encoding::Encoding(const SearchSpace& space) {
  for (const ParameterSpec& p : space.parameters()) {
    Dimension d;
    switch (p.type()) {
      case ParameterSpec::INT:
        d.kind = Kind::kInt;
        d.log = p.scale() == ParameterSpec::LOG;
        d.min = p.min();
        d.max = p.max();
        // As SearchSpace::UnitSpan: [min - 0.5, max + 0.5] before the scale.
        d.lo = d.log ? std::log(p.min() - 0.5) : p.min() - 0.5;
        d.hi = d.log ? std::log(p.max() + 0.5) : p.max() + 0.5;
        break;
      case ParameterSpec::DISCRETE:
        d.kind = Kind::kList;
        d.cells = p.values_size();
        break;
      case ParameterSpec::CATEGORICAL:
        d.kind = Kind::kCategorical;
        d.cells = p.categories_size();
        break;
      default:
        d.kind = Kind::kDouble;
        continuous_.push_back(static_cast<int>(kinds_.size()));
        break;
    }
    categorical_.push_back(d.kind == Kind::kCategorical);
    kinds_.push_back(d);
  }
}

double Encoding::IntegerOf(const Dimension& d, double u) {
  const double scaled = std::lerp(d.lo, d.hi, u);
  const double x = d.log ? std::exp(scaled) : scaled;
  return std::clamp(std::floor(x + 0.5), d.min, d.max);
}

double Encoding::IntegerFeature(const Dimension& d, double k) {
  const double scaled = d.log ? std::log(k) : k;
  return (scaled - d.lo) / (d.hi - d.lo);
}

Eigen::VectorXd Encoding::Features(const std::vector<double>& unit) const {
  Eigen::VectorXd features(dimensions());
  for (int j = 0; j < dimensions(); ++j) {
    const Dimension& d = kinds_[j];
    const double u = Clamp(j < static_cast<int>(unit.size()) ? unit[j] : 0.0);
    switch (d.kind) {
      case Kind::kDouble:
        features[j] = u;
        break;
      case Kind::kInt:
        features[j] = IntegerFeature(d, IntegerOf(d, u));
        break;
      case Kind::kList:
        features[j] = CellCentre(CellIndex(u, d.cells), d.cells);
        break;
      case Kind::kCategorical:
        features[j] = CellIndex(u, d.cells);
        break;
    }
  }
  return features;
}

std::vector<double> Encoding::Unit(
    const Eigen::Ref<const Eigen::VectorXd>& features) const {
  std::vector<double> unit(dimensions());
  for (int j = 0; j < dimensions(); ++j) {
    unit[j] = kinds_[j].kind == Kind::kCategorical
                  ? CellCentre(static_cast<int>(features[j]), kinds_[j].cells)
                  : Clamp(features[j]);
  }
  return unit;
}

std::vector<double> Encoding::Neighbours(int j, double feature) const {
  const Dimension& d = kinds_[j];
  std::vector<double> out;
  if (d.kind == Kind::kDouble) return out;
  if (d.kind == Kind::kInt) {
    const double k = IntegerOf(d, Clamp(feature));
    if (d.max - d.min + 1 <= kShortList) {
      // Counted in integers: near 2^53, ++v on a double stops moving.
      const int64_t span = static_cast<int64_t>(d.max - d.min);
      for (int64_t i = 0; i <= span; ++i) {
        const double v = d.min + static_cast<double>(i);
        if (v != k) out.push_back(IntegerFeature(d, v));
      }
      return out;
    }
    for (double step = 1; step <= d.max - d.min; step *= 2) {
      if (k - step >= d.min) out.push_back(IntegerFeature(d, k - step));
      if (k + step <= d.max) out.push_back(IntegerFeature(d, k + step));
    }
    return out;
  }
  const int index = d.kind == Kind::kCategorical
                        ? static_cast<int>(feature)
                        : CellIndex(Clamp(feature), d.cells);
  auto feature_of = [&](int i) {
    return d.kind == Kind::kCategorical ? static_cast<double>(i)
                                        : CellCentre(i, d.cells);
  };
  if (d.kind == Kind::kCategorical || d.cells <= kShortList) {
    for (int i = 0; i < d.cells; ++i) {
      if (i != index) out.push_back(feature_of(i));
    }
    return out;
  }
  for (int step = 1; step < d.cells; step *= 2) {
    if (index - step >= 0) out.push_back(feature_of(index - step));
    if (index + step < d.cells) out.push_back(feature_of(index + step));
  }
  return out;
}

}  // namespace vernier::algorithms::gp
