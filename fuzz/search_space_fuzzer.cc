// Fuzz target: the search-space decoder (algorithms/search_space.h) and the
// GP's encoding over it (algorithms/gp/encoding.h), which every algorithm
// uses to read a study's parameters and the trials' assignments, including
// what an external plug-in and ask/tell clients send. Input: a
// vernier.v1.SuggestRequest in protobuf text format (what a plug-in receives:
// the spec and the trials so far); each trial's final metric values, in
// order, also make a unit-cube point to decode.
//
// Besides not crashing: an assignment decoded from any point must encode
// again (FromUnit gives valid assignments), and so must one decoded from the
// point of a valid trial assignment.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "algorithms/gp/encoding.h"
#include "algorithms/search_space.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "vernier/v1/service.pb.h"

namespace vernier::algorithms {
namespace {

// Above this many grid values a parameter is skipped: GridValues allows ten
// million, which is memory, not a bug.
constexpr double kMaxFuzzGridValues = 100000;

bool SmallGrid(const v1::ParameterSpec& parameter) {
  if (parameter.has_grid_points()) {
    return parameter.grid_points() <= kMaxFuzzGridValues;
  }
  if (parameter.type() == v1::ParameterSpec::INT) {
    return std::abs(parameter.max() - parameter.min()) <= kMaxFuzzGridValues;
  }
  return true;
}

// Text-format errors are the input's, not ours: they stay off stderr.
class QuietErrors final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
};

void CheckDecodes(const SearchSpace& space, const std::vector<double>& point,
                  const char* what) {
  const Assignment decoded = space.FromUnit(point);
  absl::StatusOr<std::vector<double>> again = space.ToUnit(decoded);
  if (!again.ok()) {
    std::fprintf(stderr, "%s decodes to an invalid assignment: %s\n", what,
                 std::string(again.status().message()).c_str());
    std::abort();
  }
  space.Key(decoded);
}

void Decode(const v1::SuggestRequest& request) {
  absl::StatusOr<SearchSpace> space =
      SearchSpace::Create(request.spec().parameters());
  if (!space.ok()) return;
  space->Cardinality();
  for (int i = 0; i < space->dimensions(); ++i) {
    if (SmallGrid(space->parameters()[i])) space->GridValues(i).IgnoreError();
  }
  std::vector<double> metric_values;
  for (const v1::Trial& trial : request.trials()) {
    space->Key(trial.parameters());
    absl::StatusOr<std::vector<double>> unit = space->ToUnit(trial.parameters());
    if (unit.ok()) CheckDecodes(*space, *unit, "a trial's point");
    // By name: a proto map's order is unspecified.
    const std::map<std::string, double> metrics(trial.final_metrics().begin(),
                                                trial.final_metrics().end());
    for (const auto& [name, value] : metrics) metric_values.push_back(value);
  }
  std::vector<double> point(space->dimensions(), 0.5);
  for (size_t i = 0; i < point.size() && i < metric_values.size(); ++i) {
    point[i] = metric_values[i];
  }
  CheckDecodes(*space, point, "a point");

  const gp::Encoding encoding(*space);
  const Eigen::VectorXd features = encoding.Features(point);
  CheckDecodes(*space, encoding.Unit(features), "an encoded point");
  for (int j = 0; j < encoding.dimensions(); ++j) {
    const std::vector<int>& continuous = encoding.continuous();
    if (std::find(continuous.begin(), continuous.end(), j) !=
        continuous.end()) {
      continue;
    }
    encoding.Neighbours(j, features[j]);
  }
}

}  // namespace
}  // namespace vernier::algorithms

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vernier::v1::SuggestRequest request;
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  vernier::algorithms::QuietErrors quiet;
  parser.RecordErrorsTo(&quiet);
  if (!parser.ParseFromString(
          std::string(reinterpret_cast<const char*>(data), size), &request)) {
    return 0;
  }
  vernier::algorithms::Decode(request);
  return 0;
}
