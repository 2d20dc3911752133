// Builders for the algorithms module's tests.
#ifndef VERNIER_ALGORITHMS_TEST_SPACES_H_
#define VERNIER_ALGORITHMS_TEST_SPACES_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "algorithms/search_space.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "vernier/v1/study.pb.h"

namespace vernier::algorithms::testing {

inline v1::ParameterSpec DoubleParam(const std::string& name, double min,
                                     double max, bool log = false,
                                     std::optional<int> grid_points = {}) {
  v1::ParameterSpec p;
  p.set_name(name);
  p.set_type(v1::ParameterSpec::DOUBLE);
  p.set_min(min);
  p.set_max(max);
  p.set_scale(log ? v1::ParameterSpec::LOG : v1::ParameterSpec::LINEAR);
  if (grid_points) p.set_grid_points(*grid_points);
  return p;
}

inline v1::ParameterSpec IntParam(const std::string& name, double min,
                                  double max, bool log = false,
                                  std::optional<int> grid_points = {}) {
  v1::ParameterSpec p = DoubleParam(name, min, max, log, grid_points);
  p.set_type(v1::ParameterSpec::INT);
  return p;
}

inline v1::ParameterSpec DiscreteParam(const std::string& name,
                                       std::initializer_list<double> values) {
  v1::ParameterSpec p;
  p.set_name(name);
  p.set_type(v1::ParameterSpec::DISCRETE);
  for (double v : values) p.add_values(v);
  return p;
}

inline v1::ParameterSpec CategoricalParam(
    const std::string& name, std::initializer_list<std::string> categories) {
  v1::ParameterSpec p;
  p.set_name(name);
  p.set_type(v1::ParameterSpec::CATEGORICAL);
  for (const std::string& c : categories) p.add_categories(c);
  return p;
}

inline google::protobuf::RepeatedPtrField<v1::ParameterSpec> Specs(
    std::vector<v1::ParameterSpec> parameters) {
  google::protobuf::RepeatedPtrField<v1::ParameterSpec> specs;
  for (v1::ParameterSpec& p : parameters) *specs.Add() = std::move(p);
  return specs;
}

// The space of `parameters`, which the test asserts is valid.
inline SearchSpace MakeSpace(std::vector<v1::ParameterSpec> parameters) {
  absl::StatusOr<SearchSpace> space =
      SearchSpace::Create(Specs(std::move(parameters)));
  EXPECT_TRUE(space.ok()) << space.status();
  return *std::move(space);
}

inline google::protobuf::Value Num(double x) {
  google::protobuf::Value v;
  v.set_number_value(x);
  return v;
}

inline google::protobuf::Value Str(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

inline Assignment Assign(
    std::initializer_list<std::pair<std::string, google::protobuf::Value>>
        values) {
  Assignment assignment;
  for (const auto& [name, value] : values) assignment[name] = value;
  return assignment;
}

// A trial numbered `number` holding `assignment`.
inline v1::Trial TrialOf(int number, const Assignment& assignment,
                         v1::Trial::State state = v1::Trial::SUCCEEDED) {
  v1::Trial trial;
  trial.set_number(number);
  trial.set_state(state);
  *trial.mutable_parameters() = assignment;
  return trial;
}

}  // namespace vernier::algorithms::testing

#endif  // VERNIER_ALGORITHMS_TEST_SPACES_H_
