#include "web/live_updates.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/study_summary.h"

namespace vernier::web {

void LiveUpdates::OnStudyWritten(const v1::Study& study) {
  std::lock_guard<std::mutex> lock(mu_);
  Append(study.id(),
         absl::StrCat(R"({"kind":"study","study_id":)", study.id(),
                      R"(,"state":")", v1::Study::State_Name(study.state()),
                      R"("})"));
}

void LiveUpdates::OnTrialWritten(const v1::Trial& trial) {
  bool started = false;
  bool finished = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TrialState& known = trials_[trial.id()];
    const v1::Trial::State before = known.state;
    known = TrialState{.study_id = trial.study_id(), .state = trial.state()};
    if (before == trial.state()) {
      // Same state (new metrics, a log tail): still worth a refresh.
    } else if (trial.state() == v1::Trial::RUNNING) {
      started = true;
    } else if (controller::IsFinal(trial.state()) &&
               !controller::IsFinal(before)) {
      finished = true;
    }
    Append(trial.study_id(),
           absl::StrCat(R"({"kind":"trial","study_id":)", trial.study_id(),
                        R"(,"trial_id":)", trial.id(), R"(,"number":)",
                        trial.number(), R"(,"state":")",
                        v1::Trial::State_Name(trial.state()), R"("})"));
  }
  if (started && transitions_.started) transitions_.started();
  if (finished && transitions_.finished) transitions_.finished(trial.state());
}

void LiveUpdates::OnMeasurementsWritten(
    int64_t trial_id, const std::vector<v1::Measurement>& measurements) {
  int64_t last_step = 0;
  for (const v1::Measurement& measurement : measurements) {
    last_step = std::max(last_step, measurement.step());
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  // A trial reports only while running, and it was written RUNNING through
  // this store first; an unknown one belongs to no study a viewer follows.
  const int64_t study_id = it == trials_.end() ? 0 : it->second.study_id;
  Append(study_id,
         absl::StrCat(R"({"kind":"measurements","study_id":)", study_id,
                      R"(,"trial_id":)", trial_id, R"(,"step":)", last_step,
                      "}"));
}

void LiveUpdates::Append(int64_t study_id, std::string json) {
  events_.push_back(LiveEvent{
      .sequence = ++last_sequence_, .study_id = study_id, .json = std::move(json)});
  if (events_.size() > kCapacity) events_.pop_front();
  changed_.notify_all();
}

int64_t LiveUpdates::LastSequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_sequence_;
}

LiveUpdates::Batch LiveUpdates::Wait(int64_t after, int64_t study_id,
                                     absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                    [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                      return closed_ || last_sequence_ > after;
                    });
  Batch batch{.last_sequence = last_sequence_,
              .lost = !events_.empty() && events_.front().sequence > after + 1};
  for (const LiveEvent& event : events_) {
    if (event.sequence <= after) continue;
    if (study_id != 0 && event.study_id != study_id) continue;
    batch.events.push_back(event);
  }
  return batch;
}

void LiveUpdates::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  changed_.notify_all();
}

bool LiveUpdates::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

}  // namespace vernier::web
