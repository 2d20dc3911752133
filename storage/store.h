// Store: where studies, trials and measurements live.
//
// A Store keeps the protos of protos/vernier/v1/study.proto. Every write
// returns only once it is durable (committed to disk), so a caller may
// acknowledge it to a user. All methods are thread-safe; concurrent writes are
// grouped into one transaction by the implementation, so many small writers
// do not each pay for a commit.
//
// Errors: NOT_FOUND for an unknown id or name, ALREADY_EXISTS for a duplicate
// study name or trial number, INVALID_ARGUMENT for a write that contradicts
// the store (a trial of an unknown study), UNAVAILABLE when the database cannot
// be written (disk full, read-only). A failed write changes nothing.
#ifndef VERNIER_STORAGE_STORE_H_
#define VERNIER_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vernier/v1/study.pb.h"

namespace vernier::storage {

// Which trials of a study QueryTrials returns, and in what order.
struct TrialQuery {
  enum class Order {
    kNumber,     // creation order
    kObjective,  // trials without an objective come last either way
    kState,      // by the numeric value of Trial.State
    kParameter,  // by order_parameter's value; trials without one come last
  };
  struct ParameterRange {
    std::string name;
    double min = 0;  // inclusive
    double max = 0;  // inclusive
  };

  int64_t study_id = 0;
  // Only trials in one of these states; empty for every state.
  std::vector<v1::Trial::State> states;
  // Only trials whose numeric value of each named parameter lies in its range
  // (a trial without a numeric value of it is left out).
  std::vector<ParameterRange> parameter_ranges;
  Order order = Order::kNumber;
  std::string order_parameter;  // for Order::kParameter
  bool descending = false;      // ties are broken by number, ascending
  // The page: skip `offset` matching trials, return at most `limit`.
  int64_t offset = 0;
  int limit = 100;
};

struct TrialPage {
  std::vector<v1::Trial> trials;  // without their measurements
  int64_t total = 0;              // how many trials match, over every page
};

// How many trials of one study are in one state.
struct TrialStateCount {
  int64_t study_id = 0;
  v1::Trial::State state = v1::Trial::STATE_UNSPECIFIED;
  int64_t count = 0;
};

// One intermediate value of one metric.
struct MetricPoint {
  int64_t trial_id = 0;
  int64_t step = 0;
  double value = 0;  // NaN when stored as such
};

class Store {
 public:
  Store() = default;
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Stores a new study and returns it with its id set. `study.id` is ignored.
  // ALREADY_EXISTS when a study of the same name exists.
  virtual absl::StatusOr<v1::Study> CreateStudy(v1::Study study) = 0;

  // Replaces the stored study whose id is `study.id` (state, end reason...).
  virtual absl::Status UpdateStudy(const v1::Study& study) = 0;

  virtual absl::StatusOr<v1::Study> GetStudy(int64_t study_id) = 0;
  virtual absl::StatusOr<v1::Study> FindStudy(absl::string_view name) = 0;

  // Every study, by id.
  virtual absl::StatusOr<std::vector<v1::Study>> ListStudies() = 0;

  // Stores new trials atomically (all or none) and returns them with their
  // ids set, in order. Each trial's study_id must name a stored study and its
  // number must be new in that study.
  virtual absl::StatusOr<std::vector<v1::Trial>> CreateTrials(
      std::vector<v1::Trial> trials) = 0;

  // Replaces the stored trial whose id is `trial.id`. `trial.measurements`
  // is not stored here; use AddMeasurements.
  virtual absl::Status UpdateTrial(const v1::Trial& trial) = 0;

  // A trial without its measurements.
  virtual absl::StatusOr<v1::Trial> GetTrial(int64_t trial_id) = 0;

  // The trials of a study by number, without their measurements.
  virtual absl::StatusOr<std::vector<v1::Trial>> ListTrials(
      int64_t study_id) = 0;

  // One page of a study's trials, filtered and sorted as `query` says; a
  // fixed number of queries whatever the page size. NOT_FOUND for an unknown
  // study; INVALID_ARGUMENT for a negative offset, a limit below 1, or
  // Order::kParameter without order_parameter.
  virtual absl::StatusOr<TrialPage> QueryTrials(const TrialQuery& query) = 0;

  // The trial counts of every study by state, in one query; a (study, state)
  // pair without trials has no entry.
  virtual absl::StatusOr<std::vector<TrialStateCount>> CountTrials() = 0;

  // Stores intermediate measurements of a trial. Idempotent per (trial, step,
  // metric): a repeat of a stored triple overwrites it with the same meaning,
  // so a client may retry a report. `done` gets the outcome once it is
  // durable, on a storage thread: it must be quick and must not wait for
  // another write.
  virtual void AddMeasurementsAsync(int64_t trial_id,
                                    std::vector<v1::Measurement> measurements,
                                    std::function<void(absl::Status)> done) = 0;

  // AddMeasurementsAsync, waiting for the outcome.
  absl::Status AddMeasurements(int64_t trial_id,
                               std::vector<v1::Measurement> measurements);

  // The trial's measurements by step, each step's metrics in one Measurement.
  virtual absl::StatusOr<std::vector<v1::Measurement>> ListMeasurements(
      int64_t trial_id) = 0;

  // The intermediate values of `metric` of the given trials, in one query,
  // ordered by trial id then step. Unknown trial ids contribute nothing.
  // INVALID_ARGUMENT for more than kMaxMetricTrials ids.
  static constexpr size_t kMaxMetricTrials = 1000;
  virtual absl::StatusOr<std::vector<MetricPoint>> ListMetricValues(
      const std::vector<int64_t>& trial_ids, absl::string_view metric) = 0;
};

}  // namespace vernier::storage

#endif  // VERNIER_STORAGE_STORE_H_
