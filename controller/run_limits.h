// RunLimits: server-wide caps on running trials, against runaway use of a
// shared machine or cluster (`vernier serve --max-running-trials N` and
// `--max-running-per LABEL=N`, e.g. team=8: at most 8 running trials for
// each value of the study label `team`).
//
// A running trial holds one slot of the server-wide cap and one slot of the
// cap of each capped label its study carries (a study without the label is
// not capped by it). Slots are DevicePools of anonymous slots, so studies are
// served in the order they came to wait, the same turn-taking as GPUs: a
// study refused waits in the queue, and one that is served goes to the back.
//
// Thread-safe.
#ifndef VERNIER_CONTROLLER_RUN_LIMITS_H_
#define VERNIER_CONTROLLER_RUN_LIMITS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "trial-runner/local/device_pool.h"

namespace vernier::controller {

struct RunLimitsSpec {
  // At most this many trials run at once across all studies; nullopt: no cap.
  std::optional<int> max_running;
  // Label key -> at most this many running trials per value of that label.
  std::map<std::string, int> max_running_per_label;
};

// Parses one `--max-running-per` value, "LABEL=N" with N >= 1, into
// `spec`. INVALID_ARGUMENT saying what is wrong (a missing '=', a label
// given twice, N not a positive integer).
absl::Status AddLabelCap(absl::string_view text, RunLimitsSpec& spec);

class RunLimits {
 public:
  explicit RunLimits(RunLimitsSpec spec);
  RunLimits(const RunLimits&) = delete;
  RunLimits& operator=(const RunLimits&) = delete;

  // The slots one running trial holds.
  class Grant {
   public:
    Grant() = default;

   private:
    friend class RunLimits;
    std::vector<std::pair<trial_runner::DevicePool*, std::vector<std::string>>>
        held_;
  };

  // The slots for one more running trial of `study`, whose labels are
  // `labels`; or nullopt, with `waiting_for` set to the cap that holds it
  // back (e.g. "the server's cap of 4 running trials (--max-running-trials)").
  std::optional<Grant> TryAcquire(
      int64_t study, const google::protobuf::Map<std::string, std::string>& labels,
      std::string* waiting_for);
  void Release(const Grant& grant);
  // `study` no longer waits (it has nothing to start, or ended).
  void Withdraw(int64_t study);

 private:
  trial_runner::DevicePool* LabelPool(const std::string& key,
                                      const std::string& value, int cap);

  const RunLimitsSpec spec_;
  const std::unique_ptr<trial_runner::DevicePool> server_;  // null: no cap

  std::mutex mu_;
  // (label key, value) -> its pool, made on first use.
  std::map<std::pair<std::string, std::string>,
           std::unique_ptr<trial_runner::DevicePool>>
      label_pools_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_RUN_LIMITS_H_
