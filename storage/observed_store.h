// ObservedStore: a Store that tells a listener about each durable write.
//
// Live views (the dashboard's server-sent events, the Prometheus counters)
// need to know when studies, trials and measurements change without polling
// the database per viewer. Every writer of a process goes through one Store;
// wrapping it in an ObservedStore makes each successful write visible once,
// after it is durable. Reads pass straight through.
#ifndef VERNIER_STORAGE_OBSERVED_STORE_H_
#define VERNIER_STORAGE_OBSERVED_STORE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "storage/store.h"
#include "vernier/v1/study.pb.h"

namespace vernier::storage {

// Told of writes after they are durable, on the thread that wrote (for
// measurements, the storage writer thread). Implementations must be
// thread-safe and quick, and must not write to the store.
class StoreListener {
 public:
  StoreListener() = default;
  virtual ~StoreListener() = default;
  StoreListener(const StoreListener&) = delete;
  StoreListener& operator=(const StoreListener&) = delete;

  // A study was created or updated; `study` is as stored.
  virtual void OnStudyWritten(const v1::Study& study) = 0;
  // A trial was created or updated; `trial` is as stored (no measurements).
  virtual void OnTrialWritten(const v1::Trial& trial) = 0;
  // Measurements of a trial were stored.
  virtual void OnMeasurementsWritten(
      int64_t trial_id, const std::vector<v1::Measurement>& measurements) = 0;
};

// Thread-safe as the wrapped store is. Failed writes are not reported.
class ObservedStore final : public Store {
 public:
  // `store` and `listener` must outlive this object.
  ObservedStore(Store* store, StoreListener* listener)
      : store_(store), listener_(listener) {}

  absl::StatusOr<v1::Study> CreateStudy(v1::Study study) override;
  absl::Status UpdateStudy(const v1::Study& study) override;
  absl::StatusOr<v1::Study> GetStudy(int64_t study_id) override {
    return store_->GetStudy(study_id);
  }
  absl::StatusOr<v1::Study> FindStudy(absl::string_view name) override {
    return store_->FindStudy(name);
  }
  absl::StatusOr<std::vector<v1::Study>> ListStudies() override {
    return store_->ListStudies();
  }
  absl::StatusOr<std::vector<v1::Trial>> CreateTrials(
      std::vector<v1::Trial> trials) override;
  absl::Status UpdateTrial(const v1::Trial& trial) override;
  absl::StatusOr<v1::Trial> GetTrial(int64_t trial_id) override {
    return store_->GetTrial(trial_id);
  }
  absl::StatusOr<std::vector<v1::Trial>> ListTrials(int64_t study_id) override {
    return store_->ListTrials(study_id);
  }
  absl::StatusOr<TrialPage> QueryTrials(const TrialQuery& query) override {
    return store_->QueryTrials(query);
  }
  absl::StatusOr<std::vector<TrialStateCount>> CountTrials() override {
    return store_->CountTrials();
  }
  void AddMeasurementsAsync(int64_t trial_id,
                            std::vector<v1::Measurement> measurements,
                            std::function<void(absl::Status)> done) override;
  absl::StatusOr<std::vector<v1::Measurement>> ListMeasurements(
      int64_t trial_id) override {
    return store_->ListMeasurements(trial_id);
  }
  absl::StatusOr<std::vector<MetricPoint>> ListMetricValues(
      const std::vector<int64_t>& trial_ids, absl::string_view metric) override {
    return store_->ListMetricValues(trial_ids, metric);
  }

 private:
  Store* const store_;
  StoreListener* const listener_;
};

}  // namespace vernier::storage

#endif  // VERNIER_STORAGE_OBSERVED_STORE_H_
