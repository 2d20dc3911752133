#include "controller/trial_launch.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "trial-runner/params_template.h"

namespace vernier::controller {

absl::StatusOr<trial_runner::TrialLaunch> LaunchBasics(
    const v1::StudySpec& spec, const v1::Trial& trial) {
  trial_runner::TrialLaunch launch;
  launch.trial_id = trial.id();
  launch.study = spec.name();
  launch.parameters = trial.parameters();
  const auto& command = spec.worker().kind() == v1::WorkerSpec::KUBERNETES
                            ? spec.worker().kubernetes().command()
                            : spec.worker().command();
  for (const std::string& arg : command) {
    absl::StatusOr<std::string> substituted =
        trial_runner::SubstituteParams(arg, trial.parameters());
    if (!substituted.ok()) return substituted.status();
    launch.argv.push_back(*std::move(substituted));
  }
  for (const auto& [name, value] : spec.worker().env()) {
    absl::StatusOr<std::string> substituted =
        trial_runner::SubstituteParams(value, trial.parameters());
    if (!substituted.ok()) return substituted.status();
    launch.env[name] = *std::move(substituted);
  }
  for (const auto& [name, value] : trial.parameters()) {
    launch.env["VERNIER_PARAM_" + name] = trial_runner::FormatParamValue(value);
  }
  launch.env["VERNIER_STUDY"] = spec.name();
  launch.env["VERNIER_TRIAL_ID"] = absl::StrCat(trial.id());
  launch.env["VERNIER_TRIAL_NUMBER"] = absl::StrCat(trial.number());
  return launch;
}

}  // namespace vernier::controller
