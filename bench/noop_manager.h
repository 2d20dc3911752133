// A StudyManager that answers every report at once and stores nothing: behind
// a real GrpcServer it leaves only the cost of gRPC itself (client and
// server), the `grpc-noop` stage of bench/ingest.
#ifndef VERNIER_BENCH_NOOP_MANAGER_H_
#define VERNIER_BENCH_NOOP_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/study_manager.h"

namespace vernier::bench {

// Thread-safe: it holds no state.
class NoopManager final : public controller::StudyManager {
 public:
  void SetReportEndpoint(std::string) override {}
  absl::Status ResumeActiveStudies() override { return absl::OkStatus(); }
  absl::StatusOr<v1::Study> StartStudy(const v1::StudySpec&, const std::string&,
                                       bool) override {
    return Unimplemented();
  }
  absl::StatusOr<v1::Study> StopStudy(absl::string_view) override {
    return Unimplemented();
  }
  void StopTrial(int64_t, std::function<void(absl::Status)> done) override {
    done(Unimplemented());
  }
  absl::StatusOr<v1::Study> WaitForStudy(absl::string_view) override {
    return Unimplemented();
  }
  absl::StatusOr<controller::WorkerTrial> GetTrialForWorker(
      int64_t trial_id, absl::string_view) override {
    controller::WorkerTrial answer;
    answer.trial.set_id(trial_id);
    return answer;
  }
  void ReportMeasurements(
      int64_t, absl::string_view, std::vector<v1::Measurement>,
      std::function<void(absl::StatusOr<bool>)> done) override {
    done(false);
  }
  void FinishTrial(int64_t, absl::string_view, std::map<std::string, double>,
                   std::function<void(absl::Status)> done) override {
    done(Unimplemented());
  }
  void SuggestTrials(absl::string_view, int, const std::string&,
                     std::function<void(absl::StatusOr<std::vector<v1::Trial>>)>
                         done) override {
    done(Unimplemented());
  }
  void CompleteTrial(
      absl::string_view, int64_t, std::map<std::string, double>, bool,
      const std::string&,
      std::function<void(absl::StatusOr<v1::Trial>)> done) override {
    done(Unimplemented());
  }
  void Shutdown() override {}

 private:
  static absl::Status Unimplemented() {
    return absl::UnimplementedError("not in the benchmark's no-op manager");
  }
};

}  // namespace vernier::bench

#endif  // VERNIER_BENCH_NOOP_MANAGER_H_
