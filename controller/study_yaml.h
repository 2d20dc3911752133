// Reading a study from YAML, and checking a StudySpec from any source.
//
// LoadStudyYaml turns a study YAML into a v1::StudySpec and lists every
// problem at once: unknown keys (with the known ones), wrong types, unknown
// names, malformed durations, and every rule of ValidateStudySpec, each with
// the field path and the YAML line and column. Nothing is written anywhere;
// callers store the spec only when it is valid.
//
// The YAML (the README's reference describes the same):
//
//   name: digits-svm            # required; ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$,
//                               #   at most 63 characters
//   description: tune an SVM    # optional
//   labels: {team: fraud}       # optional; Kubernetes label syntax, for
//                               #   cost reports (`vernier cost --by team`)
//   objective:
//     metric: accuracy          # required; ^[A-Za-z_][A-Za-z0-9_.-]*$, not
//                               #   "step"
//     goal: maximize            # required: maximize | minimize
//     target: 0.99              # optional, finite
//     additional_metrics: [fit_seconds]  # optional; distinct metric names,
//                               #   not the objective metric
//     count_stopped: false      # default false; true lets a trial stopped
//                               #   early be the best, by the best value it
//                               #   reached
//   algorithm:                  # optional; default {name: random}
//     name: random              # a registered algorithm (grid, random,
//                               #   external, ...)
//     seed: 7                   # optional; 0 .. 2^64-1
//     settings: {}              # a mapping (-> google.protobuf.Struct); the
//                               #   algorithm rejects keys it does not know
//     endpoint: 127.0.0.1:7010  # HOST:PORT of an AlgorithmPlugin process:
//                               #   required by `external`, an error for any
//                               #   other name. The plug-in is not contacted
//                               #   here (it judges its settings on the first
//                               #   suggestion), so a study validates while
//                               #   its plug-in is down.
//   parameters:                 # required, at least one
//     - {name: C, type: double, min: 0.001, max: 1000, scale: log}
//     - {name: depth, type: int, min: 2, max: 12}       # integral bounds
//     - {name: batch, type: discrete, values: [32, 64, 128]}  # increasing
//     - {name: kernel, type: categorical, values: [rbf, poly]} # distinct
//     # Names: ^[A-Za-z_][A-Za-z0-9_]*$, distinct. min < max; scale: linear
//     # (default) | log, log needs min > 0. grid_points: N (>= 2) on a double
//     # or int; grid search needs it on every double.
//   trials:                     # required
//     max: 40                   # required, >= 1
//     parallel: 2               # default 1, >= 1
//     max_failed: 5             # optional, >= 0; absent: no limit
//     max_runtime: 10m          # optional duration; absent: no limit
//     retries: 0                # default 0, >= 0
//     stop_grace: 10s           # optional duration from SIGTERM to SIGKILL
//   worker:                     # required
//     kind: local               # local (default) | kubernetes | none: no
//                               #   workers, a
//                               #   client drives the study by ask/tell;
//                               #   `worker: {kind: none}` is then the whole
//                               #   worker (command may be an empty list;
//                               #   working_dir, env, metrics are errors)
//     command: [python3, train.py, "--C=${params.C}"]  # required (local);
//                               #   scalars
//     working_dir: .            # default "."; relative to base_dir, stored
//                               #   absolute and normalised
//     env: {OMP_NUM_THREADS: 1} # names ^[A-Za-z_][A-Za-z0-9_]*$, not
//                               #   VERNIER_*; scalar values, kept as text
//     metrics:
//       collector: stdout       # stdout (default) | push
//     kubernetes:               # with kind: kubernetes (then required), each
//                               #   trial a batch/v1 Job; command above is an
//                               #   error, collector defaults to (and must
//                               #   be) push, working_dir is a path in the
//                               #   image and env goes to the container
//       namespace: ml-tuning    # required; a DNS-1123 label
//       context: prod-gpu       # optional kubeconfig context
//       image: train:1.4        # required unless job_template has one
//       command: [python, train.py, "--lr=${params.lr}"]  # optional
//       resources: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}  # quantities
//       report_endpoint: vernier.ml-tuning.svc:7007  # required HOST:PORT
//       pending_timeout: 10m    # optional duration (default 10m)
//       ttl_after_finished: 1h  # optional duration (default 1h)
//       job_template: {...}     # optional Job or pod template (a mapping
//                               #   with spec.containers); ${params.X} in
//                               #   any string
//     gpus_per_trial: 1         # default 0; GPUs each trial holds alone
//     gpus: auto                # auto (default: what nvidia-smi lists) or a
//                               #   list of indices or UUIDs
//     cpus_per_trial: 2         # default 0 (no pinning); cores each trial
//                               #   holds alone, its processes pinned to them
//     memory_gb_per_trial: 16   # default 0; charged with memory_gb_hour
//     pricing: {gpu_hour: 2.48, cpu_hour: 0.05, memory_gb_hour: 0.01,
//               instance_hour: 3.06}  # each >= 0, default 0
//   budget:                     # optional: needs pricing that gives a
//                               #   trial a cost, and a worker that runs
//     max_cost: 40.00           # required, > 0
//     currency: USD             # default USD; three capital letters
//     on_exhausted: stop        # stop (default): running trials are stopped
//                               #   at the limit | drain: they finish
//   early_stopping:             # optional; absent: trials run to their end
//     name: asha                # required: median | asha
//     settings: {max_step: 81}  # a mapping; the rule rejects keys it does
//                               #   not know (algorithms/early_stopping/
//                               #   median_rule.h, asha.h). Not for a worker
//                               #   of kind none, which reports no steps.
//
// A ${params.NAME} in worker.command or a worker.env value must name a
// parameter. Durations are one or more <number><unit>, units ms, s, m, h, d
// ("90s", "1h30m", "1.5h"), and must be > 0. Numbers must be plain YAML
// numbers (a quoted "12" is a string). A key with no value (`key:`) counts as
// absent. Only one YAML document is read.
//
// Error paths name fields as the YAML does: "parameters[2].max",
// "trials.parallel", "worker.command[1]", "worker.env.FOO",
// "algorithm.settings.foo", "early_stopping.settings.max_step". An error
// about a missing field is placed on the mapping that lacks it.
#ifndef VERNIER_CONTROLLER_STUDY_YAML_H_
#define VERNIER_CONTROLLER_STUDY_YAML_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

// One problem with a study.
struct SpecError {
  // The field, as a user writes it: "parameters[2].max", "trials.parallel".
  std::string path;
  std::string message;
  // 1-based position in the YAML; 0 when the spec did not come from YAML.
  int line = 0;
  int column = 0;

  // "12:5: parameters[2].max: must be greater than min (3 <= 5)"
  std::string ToString() const;
};

struct LoadedStudy {
  v1::StudySpec spec;
  // Empty when the study is valid.
  std::vector<SpecError> errors;
};

// The largest study YAML LoadStudyYaml reads; a real study is a few KiB.
inline constexpr size_t kMaxStudyYamlBytes = 1 << 20;
// The longest metric name a study may declare or a trial report.
inline constexpr size_t kMaxMetricNameLength = 256;
// The longest description a study may have, in bytes.
inline constexpr size_t kMaxDescriptionBytes = 64 << 10;

// Parses and validates `yaml_text`. `base_dir` (absolute) is where a relative
// worker.working_dir starts: the YAML file's folder. Text over
// kMaxStudyYamlBytes, text that is not UTF-8 (protobuf strings must be, and
// the study keeps its YAML), and a YAML syntax error (nesting deeper than
// yaml-cpp's limit of 2000 levels included) are each a single error with its
// position. Otherwise `spec` holds what could be read,
// with the defaults filled in, and `errors` every problem, in the order of
// their positions.
LoadedStudy LoadStudyYaml(absl::string_view yaml_text,
                          absl::string_view base_dir);

// The rules a StudySpec must meet however it was made (YAML, gRPC, JSON),
// including that its algorithm accepts its settings (except an external
// algorithm's, which its plug-in judges later). Errors carry paths but
// no positions. Read as a proto, trials.parallel 0 means 1, and the enums'
// UNSPECIFIED values of scale, kind and collector mean linear, local and
// stdout; an empty algorithm.name, a relative worker.working_dir and an
// UNSPECIFIED goal or parameter type are errors. Thread-safe.
std::vector<SpecError> ValidateStudySpec(const v1::StudySpec& spec);

// One INVALID_ARGUMENT status whose message lists every error, one per line,
// each prefixed with `source` ("study.yaml:") when not empty.
absl::Status SpecErrorsToStatus(const std::vector<SpecError>& errors,
                                absl::string_view source);

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_STUDY_YAML_H_
