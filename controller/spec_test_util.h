// Helpers shared by the tests of the study YAML loader and validator.
#ifndef VERNIER_CONTROLLER_SPEC_TEST_UTIL_H_
#define VERNIER_CONTROLLER_SPEC_TEST_UTIL_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "controller/study_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::controller {

// Where relative paths of the test studies resolve.
inline constexpr absl::string_view kTestBaseDir = "/home/ada/studies";

// Every error, one per line, for failure messages.
inline std::string Describe(const std::vector<SpecError>& errors) {
  std::vector<std::string> lines;
  for (const SpecError& error : errors) lines.push_back(error.ToString());
  return absl::StrJoin(lines, "\n");
}

// One malformed study: a valid base with `from` replaced once by `to`, and
// the one error that must follow.
struct MalformedCase {
  std::string label;
  std::string from;
  std::string to;
  std::string path;
  int line;
  int column;  // 0: not checked
  std::string message;  // a part of the message
};

inline void PrintTo(const MalformedCase& c, std::ostream* os) {
  *os << c.label;
}

// Loads `base` edited as `c` says and expects exactly c's error.
inline void ExpectTheOneError(absl::string_view base, const MalformedCase& c) {
  std::string yaml(base);
  const size_t at = yaml.find(c.from);
  ASSERT_NE(at, std::string::npos) << c.from;
  yaml.replace(at, c.from.size(), c.to);

  const LoadedStudy loaded = LoadStudyYaml(yaml, kTestBaseDir);
  ASSERT_EQ(loaded.errors.size(), 1u) << yaml << Describe(loaded.errors);
  const SpecError& error = loaded.errors[0];
  EXPECT_EQ(error.path, c.path) << error.ToString();
  EXPECT_EQ(error.line, c.line) << error.ToString();
  if (c.column > 0) {
    EXPECT_EQ(error.column, c.column) << error.ToString();
  }
  EXPECT_THAT(error.message, ::testing::HasSubstr(c.message))
      << error.ToString();
}

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_SPEC_TEST_UTIL_H_
