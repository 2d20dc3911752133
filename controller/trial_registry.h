// TrialRegistry: the trials whose workers may report right now, with their
// tokens and whether they have been asked to stop.
//
// A controller adds a trial when it launches its worker and removes it when
// the worker has exited; RPC handlers check a report against it. Thread-safe.
#ifndef VERNIER_CONTROLLER_TRIAL_REGISTRY_H_
#define VERNIER_CONTROLLER_TRIAL_REGISTRY_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace vernier::controller {

class StudyController;

class TrialRegistry {
 public:
  struct Entry {
    int64_t study_id = 0;
    std::string token;
    StudyController* controller = nullptr;
    bool should_stop = false;
  };

  void Add(int64_t trial_id, Entry entry);
  void Remove(int64_t trial_id);
  // From now on, reports of the trial are answered should_stop.
  void MarkShouldStop(int64_t trial_id);

  // The trial's entry when `token` is its token. NOT_FOUND when the trial is
  // not registered (not running here); PERMISSION_DENIED for another token.
  absl::StatusOr<Entry> Check(int64_t trial_id, absl::string_view token) const;

 private:
  mutable absl::Mutex mutex_;
  std::map<int64_t, Entry> entries_ ABSL_GUARDED_BY(mutex_);
};

// A new random token: 32 bytes from the kernel's CSPRNG, as 64 hex digits.
std::string NewTrialToken();

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_TRIAL_REGISTRY_H_
