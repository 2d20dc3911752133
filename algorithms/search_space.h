// SearchSpace: the one place that knows the real ranges of a study's
// parameters. Every algorithm works in the unit cube [0,1]^d; SearchSpace maps
// an assignment (parameter name -> value) to a point of the cube and back.
//
// One coordinate per parameter, in the order of the spec:
//   DOUBLE      linear: (x - min) / (max - min); log: the same on log(x).
//   INT         as DOUBLE on the range [min - 0.5, max + 0.5] (so that each
//               integer owns an equal share of [0,1]), then rounded. On a log
//               scale integer k owns [log(k - 0.5), log(k + 0.5)), a share
//               of about 1/k (Optuna's rule); ToUnit gives its centre.
//   DISCRETE    value i of k owns [i/k, (i+1)/k); its centre is (i + 0.5)/k.
//   CATEGORICAL as DISCRETE, in the order of the spec. (Models that need
//               one-hot coordinates build them from the category index.)
// FromUnit clamps to [0,1] first (NaN reads as 0), so any point decodes to a
// valid assignment.
//
// Thread-safe: immutable after construction.
#ifndef VERNIER_ALGORITHMS_SEARCH_SPACE_H_
#define VERNIER_ALGORITHMS_SEARCH_SPACE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "google/protobuf/struct.pb.h"
#include "vernier/v1/study.pb.h"

namespace vernier::algorithms {

// Parameter name -> value, as in v1::Trial::parameters: a number for DOUBLE,
// INT and DISCRETE, a string for CATEGORICAL.
using Assignment = google::protobuf::Map<std::string, google::protobuf::Value>;

class SearchSpace {
 public:
  // INVALID_ARGUMENT if the parameters are not a valid space (the study
  // validator reports the same problems with field paths; this is the guard).
  static absl::StatusOr<SearchSpace> Create(
      const google::protobuf::RepeatedPtrField<v1::ParameterSpec>& parameters);

  int dimensions() const;
  const std::vector<v1::ParameterSpec>& parameters() const;

  // The point of an assignment. INVALID_ARGUMENT, naming the parameter, when
  // one is missing, has the wrong kind of value, is not an integer for an
  // INT, or lies outside its range or list. Extra names are ignored.
  absl::StatusOr<std::vector<double>> ToUnit(
      const Assignment& assignment) const;

  // The valid assignment nearest to `point` (size dimensions()).
  Assignment FromUnit(const std::vector<double>& point) const;

  // How many distinct assignments exist, or nullopt when a DOUBLE makes the
  // space continuous. Saturates at INT64_MAX.
  std::optional<int64_t> Cardinality() const;

  // The values a grid search visits for parameter `index`: the list of a
  // DISCRETE or CATEGORICAL, every integer of an INT (or grid_points of them
  // spaced by its scale), grid_points of a DOUBLE spaced by its scale.
  // INVALID_ARGUMENT for a DOUBLE without grid_points.
  absl::StatusOr<std::vector<google::protobuf::Value>> GridValues(
      int index) const;

  // A canonical text of an assignment, equal for equal assignments: used to
  // detect duplicates. Doubles are printed exactly (round-trip).
  std::string Key(const Assignment& assignment) const;

 private:
  explicit SearchSpace(std::vector<v1::ParameterSpec> parameters);
  std::vector<v1::ParameterSpec> parameters_;
};

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_SEARCH_SPACE_H_
