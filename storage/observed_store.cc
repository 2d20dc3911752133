#include "storage/observed_store.h"

#include <utility>

namespace vernier::storage {

absl::StatusOr<v1::Study> ObservedStore::CreateStudy(v1::Study study) {
  absl::StatusOr<v1::Study> created = store_->CreateStudy(std::move(study));
  if (created.ok()) listener_->OnStudyWritten(*created);
  return created;
}

absl::Status ObservedStore::UpdateStudy(const v1::Study& study) {
  absl::Status status = store_->UpdateStudy(study);
  if (status.ok()) listener_->OnStudyWritten(study);
  return status;
}

absl::StatusOr<std::vector<v1::Trial>> ObservedStore::CreateTrials(
    std::vector<v1::Trial> trials) {
  absl::StatusOr<std::vector<v1::Trial>> created =
      store_->CreateTrials(std::move(trials));
  if (created.ok()) {
    for (const v1::Trial& trial : *created) listener_->OnTrialWritten(trial);
  }
  return created;
}

absl::Status ObservedStore::UpdateTrial(const v1::Trial& trial) {
  absl::Status status = store_->UpdateTrial(trial);
  if (status.ok()) {
    v1::Trial stored = trial;
    stored.clear_measurements();
    listener_->OnTrialWritten(stored);
  }
  return status;
}

void ObservedStore::AddMeasurementsAsync(
    int64_t trial_id, std::vector<v1::Measurement> measurements,
    std::function<void(absl::Status)> done) {
  std::vector<v1::Measurement> copy = measurements;
  store_->AddMeasurementsAsync(
      trial_id, std::move(measurements),
      [this, trial_id, copy = std::move(copy),
       done = std::move(done)](absl::Status status) {
        if (status.ok()) listener_->OnMeasurementsWritten(trial_id, copy);
        done(std::move(status));
      });
}

}  // namespace vernier::storage
