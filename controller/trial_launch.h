// What every launch of a trial carries, whatever runs it: argv and
// environment with the trial's parameters substituted.
#ifndef VERNIER_CONTROLLER_TRIAL_LAUNCH_H_
#define VERNIER_CONTROLLER_TRIAL_LAUNCH_H_

#include "absl/status/statusor.h"
#include "trial-runner/executor.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

// trial_id, study, parameters; argv from worker.command (or, for a
// kubernetes worker, worker.kubernetes.command); env from worker.env plus
// VERNIER_PARAM_<name>, VERNIER_STUDY, VERNIER_TRIAL_ID and
// VERNIER_TRIAL_NUMBER. INVALID_ARGUMENT when a ${params.X} names no
// parameter of the trial.
absl::StatusOr<trial_runner::TrialLaunch> LaunchBasics(
    const v1::StudySpec& spec, const v1::Trial& trial);

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_TRIAL_LAUNCH_H_
