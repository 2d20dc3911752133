#include "algorithms/gp/acquisition.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace vernier::algorithms::gp {
namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;
// log(sqrt(2 pi)).
constexpr double kLogSqrtTwoPi = 0.91893853320467274178;
constexpr double kMinVariance = 1e-18;

// log phi(z).
double LogPhi(double z) { return -0.5 * z * z - kLogSqrtTwoPi; }

// log Phi(z).
double LogCdf(double z) {
  if (z > -1) return std::log(0.5 * std::erfc(-z * kSqrtHalf));
  return std::log(0.5 * Erfcx(-z * kSqrtHalf)) - 0.5 * z * z;
}

}  // namespace

double Erfcx(double x) {
  if (x < 25) return std::exp(x * x) * std::erfc(x);
  const double inverse2 = 1.0 / (x * x);
  return (1.0 - inverse2 * (0.5 - inverse2 * (0.75 - inverse2 * 1.875))) /
         (x * std::sqrt(std::numbers::pi));
}

double LogH(double z) {
  if (z > -1) {
    const double cdf = 0.5 * std::erfc(-z * kSqrtHalf);
    return std::log(z * cdf + std::exp(LogPhi(z)));
  }
  const double x = -z;
  if (x <= 30) {
    // h = phi(z) (1 - x R(x)), R the Mills ratio sqrt(pi/2) erfcx(x/sqrt 2).
    const double mills = std::sqrt(std::numbers::pi / 2) * Erfcx(x * kSqrtHalf);
    return LogPhi(z) + std::log1p(-x * mills);
  }
  const double inverse2 = 1.0 / (x * x);
  const double series =
      1.0 -
      inverse2 * (3.0 - inverse2 * (15.0 - inverse2 * (105.0 - inverse2 * 945.0)));
  return LogPhi(z) - 2.0 * std::log(x) + std::log(series);
}

double LogHDerivative(double z) { return std::exp(LogCdf(z) - LogH(z)); }

double LogExpectedImprovement(double mean, double sd, double best) {
  return std::log(sd) + LogH((best - mean) / sd);
}

double AcquisitionValue(const Acquisition& acquisition, double mean,
                        double variance, double* d_mean, double* d_variance) {
  const double var = std::max(variance, kMinVariance);
  const double sd = std::sqrt(var);
  // d sd / d variance; zero where the floor holds.
  const double d_sd_d_var = variance > kMinVariance ? 0.5 / sd : 0.0;
  double dm = 0;
  double ds = 0;
  double value = 0;
  if (acquisition.kind == AcquisitionKind::kUcb) {
    const double width = std::sqrt(acquisition.beta);
    value = -mean + width * sd;
    dm = -1;
    ds = width;
  } else {
    const double z = (acquisition.best - mean) / sd;
    const double slope = LogHDerivative(z);
    value = std::log(sd) + LogH(z);
    dm = -slope / sd;
    ds = 1.0 / sd - slope * z / sd;
  }
  if (d_mean != nullptr) *d_mean = dm;
  if (d_variance != nullptr) *d_variance = ds * d_sd_d_var;
  return value;
}

}  // namespace vernier::algorithms::gp
