// GpModel: a Gaussian-process posterior on standardised outputs, with its
// Cholesky factor kept up to date one observation at a time.
//
// Holds n points (columns) with targets y (already standardised by the
// caller), the kernel, and the noise variance (in standardised units). The
// covariance is K = Gram + (noise + jitter) I with L L^T = K. Factorise()
// builds L from scratch, retrying with jitter 1e-10, 1e-9, ... 1e-4 times the
// signal variance when Eigen's LLT fails; Append() adds one row of L in O(n^2)
// (L_new = [L 0; l^T d] with L l = k(X, x), d^2 = k(x,x) + noise + jitter -
// |l|^2), refactorising with more jitter if d^2 is not positive. The result of
// a sequence of Factorise/Append calls depends only on that sequence, so two
// models fed the same sequence agree bit for bit.
//
// Predictions are of the latent function (no noise), standardised units.
//
// Not thread-safe.
#ifndef VERNIER_ALGORITHMS_GP_MODEL_H_
#define VERNIER_ALGORITHMS_GP_MODEL_H_

#include "Eigen/Core"
#include "absl/status/status.h"
#include "algorithms/gp/kernel.h"

namespace vernier::algorithms::gp {

struct Prediction {
  double mean = 0;
  double variance = 0;
};

// A prediction with its gradient with respect to the point.
struct PredictionWithGradient {
  double mean = 0;
  double variance = 0;
  Eigen::VectorXd mean_gradient;
  Eigen::VectorXd variance_gradient;
};

class GpModel final {
 public:
  GpModel(Matern52Kernel kernel, double noise_variance);

  const Matern52Kernel& kernel() const { return kernel_; }
  double noise_variance() const { return noise_variance_; }
  double jitter() const { return jitter_; }
  int size() const { return size_; }
  Eigen::Ref<const Eigen::MatrixXd> points() const;
  Eigen::Ref<const Eigen::VectorXd> targets() const;
  // The lower Cholesky factor of K, size() x size().
  Eigen::MatrixXd CholeskyFactor() const;

  // Replaces the data and factorises from scratch. INTERNAL when even the
  // largest jitter leaves K not positive definite (then size() is 0).
  absl::Status Factorise(const Eigen::Ref<const Eigen::MatrixXd>& points,
                         const Eigen::Ref<const Eigen::VectorXd>& targets);
  // Adds one observation in O(n^2). Error as Factorise.
  absl::Status Append(const Eigen::Ref<const Eigen::VectorXd>& point,
                      double target);
  // Keeps the first `size` observations (size <= size()); L's leading block
  // is theirs, so this is exact and O(1) apart from the weights.
  void Truncate(int size);
  // Replaces the targets of the observations held (size() values); O(n^2).
  void SetTargets(const Eigen::Ref<const Eigen::VectorXd>& targets);

  Prediction Predict(const Eigen::Ref<const Eigen::VectorXd>& x) const;
  PredictionWithGradient PredictWithGradient(
      const Eigen::Ref<const Eigen::VectorXd>& x) const;
  // Means and variances at many points (columns) at once.
  void PredictMany(const Eigen::Ref<const Eigen::MatrixXd>& xs,
                   Eigen::VectorXd* means, Eigen::VectorXd* variances) const;

 private:
  void EnsureCapacity(int size);
  absl::Status FactoriseHeld();
  void UpdateWeights();

  Matern52Kernel kernel_;
  double noise_variance_;
  double jitter_ = 0;
  int size_ = 0;
  // The first size_ columns / entries / leading block are in use.
  Eigen::MatrixXd points_;
  Eigen::VectorXd targets_;
  Eigen::MatrixXd cholesky_;
  // K^-1 y.
  Eigen::VectorXd weights_;
};

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_MODEL_H_
