// Acquisition functions, for minimisation on standardised outputs; larger is
// better.
//
// log EI: log E[max(best - f, 0)] = log sd + log h(z), z = (best - mean) / sd,
// h(z) = z Phi(z) + phi(z). log h is computed without underflow far into the
// lower tail (Ament et al., "Unexpected improvements to expected improvement
// for Bayesian optimization", NeurIPS 2023): directly for z > -1; through
// the scaled complementary error function erfcx for -30 <= z <= -1; by the
// asymptotic series phi(z)/z^2 (1 - 3/z^2 + 15/z^4 - ...) below -30. So the
// acquisition still ranks candidates where plain EI is 0.
// UCB (a lower confidence bound, negated): -(mean - sqrt(beta) sd).
//
// Thread-safe: pure functions.
#ifndef VERNIER_ALGORITHMS_GP_ACQUISITION_H_
#define VERNIER_ALGORITHMS_GP_ACQUISITION_H_

namespace vernier::algorithms::gp {

enum class AcquisitionKind { kLogEi, kUcb };

struct Acquisition {
  AcquisitionKind kind = AcquisitionKind::kLogEi;
  // log EI: the best (lowest) standardised target observed.
  double best = 0;
  // UCB: the width of the bound, in variances.
  double beta = 2;
};

// exp(x^2) erfc(x) for x >= 0, accurate to about 1e-13 relative.
double Erfcx(double x);
// log(z Phi(z) + phi(z)), finite for every finite z.
double LogH(double z);
// d log h / dz = Phi(z) / h(z).
double LogHDerivative(double z);
// log EI at a prediction; sd > 0.
double LogExpectedImprovement(double mean, double sd, double best);

// The acquisition value at (mean, variance); fills its derivatives with
// respect to the mean and the variance. The variance is floored at 1e-18 so
// the value stays finite at observed points.
double AcquisitionValue(const Acquisition& acquisition, double mean,
                        double variance, double* d_mean, double* d_variance);

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_ACQUISITION_H_
