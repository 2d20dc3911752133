// Fuzz target: the study YAML loader (controller/study_yaml.h), as
// `vernier run` and CreateStudy{yaml} reach it. Input: the YAML text.
// Besides not crashing, a study it accepts must pass ValidateStudySpec again,
// since the server re-validates stored specs that way.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "controller/study_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  vernier::controller::LoadedStudy loaded =
      vernier::controller::LoadStudyYaml(text, "/fuzz/base");
  if (!loaded.errors.empty()) return 0;
  std::vector<vernier::controller::SpecError> again =
      vernier::controller::ValidateStudySpec(loaded.spec);
  if (!again.empty()) {
    std::fprintf(stderr, "loaded study fails validation: %s\n",
                 again.front().ToString().c_str());
    std::abort();
  }
  return 0;
}
