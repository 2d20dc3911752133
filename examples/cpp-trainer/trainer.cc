// A toy trainer for Vernier's C++ client: heavy-ball SGD on a noisy,
// ill-conditioned 2-D quadratic, f(w) = (w0^2 + 10 w1^2) / 2, for 10 epochs.
//
// It reads lr, momentum and batch_size from its trial, reports the loss after
// each epoch, stops early when Vernier says so (or when training diverges),
// and completes the trial with its last loss. Vernier starts it with
// VERNIER_ENDPOINT, VERNIER_TRIAL_ID and VERNIER_TOKEN set; see study.yaml.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/spdlog.h"
#include "trial-runner/client/cpp/client.h"

namespace {

constexpr int kEpochs = 10;
// Examples per epoch: an epoch is kExamples / batch_size steps.
constexpr int kExamples = 1024;
constexpr std::array<double, 2> kCurvature = {1.0, 10.0};
// Standard deviation of one example's gradient noise.
constexpr double kNoise = 2.0;
// A loss above this counts as diverged.
constexpr double kDiverged = 1e6;

double Loss(const std::array<double, 2>& w) {
  return 0.5 * (kCurvature[0] * w[0] * w[0] + kCurvature[1] * w[1] * w[1]);
}

int Fail(const absl::Status& status) {
  spdlog::error("{}", status.ToString());
  return 1;
}

}  // namespace

int main() {
  absl::StatusOr<std::unique_ptr<vernier::client::Trial>> connected =
      vernier::client::Trial::FromEnvironment();
  if (!connected.ok()) return Fail(connected.status());
  vernier::client::Trial& trial = **connected;

  absl::StatusOr<double> lr = trial.Double("lr");
  if (!lr.ok()) return Fail(lr.status());
  absl::StatusOr<double> momentum = trial.Double("momentum");
  if (!momentum.ok()) return Fail(momentum.status());
  absl::StatusOr<int64_t> batch_size = trial.Int("batch_size");
  if (!batch_size.ok()) return Fail(batch_size.status());
  if (*batch_size < 1 || *batch_size > kExamples) {
    return Fail(absl::InvalidArgumentError("batch_size must be in 1..1024"));
  }
  spdlog::info("trial {}: lr={} momentum={} batch_size={}", trial.number(), *lr,
               *momentum, *batch_size);

  // The same trial trains the same way when it is run again.
  std::mt19937_64 rng(static_cast<uint64_t>(trial.id()));
  std::normal_distribution<double> noise(
      0.0, kNoise / std::sqrt(static_cast<double>(*batch_size)));
  std::array<double, 2> w = {5.0, 5.0};
  std::array<double, 2> velocity = {0.0, 0.0};
  const int64_t steps_per_epoch = kExamples / *batch_size;

  double loss = Loss(w);
  for (int epoch = 1; epoch <= kEpochs; ++epoch) {
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      for (int i = 0; i < 2; ++i) {
        double gradient = kCurvature[i] * w[i] + noise(rng);
        velocity[i] = *momentum * velocity[i] - *lr * gradient;
        w[i] += velocity[i];
      }
    }
    loss = Loss(w);
    const bool diverged = !std::isfinite(loss) || loss > kDiverged;
    if (diverged) loss = INFINITY;

    absl::StatusOr<bool> stop = trial.Report(epoch, {{"loss", loss}});
    if (!stop.ok()) return Fail(stop.status());
    spdlog::info("epoch {}: loss {}", epoch, loss);
    if (diverged) {
      spdlog::warn("training diverged; stopping");
      break;
    }
    if (*stop) {
      spdlog::info("Vernier asked this trial to stop after epoch {}", epoch);
      break;
    }
  }

  absl::Status completed = trial.Complete({{"loss", loss}});
  // A trial that Vernier stopped may already have ended on its side.
  if (completed.code() == absl::StatusCode::kFailedPrecondition &&
      trial.should_stop()) {
    spdlog::info("the trial had already ended: {}",
                 std::string(completed.message()));
    return 0;
  }
  if (!completed.ok()) return Fail(completed);
  return 0;
}
