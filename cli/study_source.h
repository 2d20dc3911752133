// StudySource: where the client subcommands read studies and trials — a
// database file, or a server over gRPC — and send the few commands they can.
#ifndef VERNIER_CLI_STUDY_SOURCE_H_
#define VERNIER_CLI_STUDY_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "vernier/v1/study.pb.h"

namespace vernier::cli {

class StudySource {
 public:
  StudySource() = default;
  virtual ~StudySource() = default;
  StudySource(const StudySource&) = delete;
  StudySource& operator=(const StudySource&) = delete;

  virtual absl::StatusOr<std::vector<v1::Study>> ListStudies() = 0;
  // NOT_FOUND naming the study.
  virtual absl::StatusOr<v1::Study> FindStudy(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<v1::Trial>> ListTrials(
      const v1::Study& study) = 0;

  // Only a server runs studies: a database source answers FAILED_PRECONDITION.
  virtual absl::StatusOr<v1::Study> Submit(const std::string& yaml_text,
                                           const std::string& base_dir) = 0;
  virtual absl::StatusOr<v1::Study> Stop(const std::string& name) = 0;
};

// The source `target` names (see Target).
absl::StatusOr<std::unique_ptr<StudySource>> OpenStudySource(
    const Target& target);

// The named study, or the source's only study when `name` is empty.
absl::StatusOr<v1::Study> ResolveStudy(StudySource& source,
                                       const std::string& name);

}  // namespace vernier::cli

#endif  // VERNIER_CLI_STUDY_SOURCE_H_
