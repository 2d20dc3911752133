#include "controller/kubernetes_render.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "algorithms/algorithm.h"
#include "algorithms/search_space.h"
#include "controller/trial_launch.h"
#include "trial-runner/kubernetes/job_builder.h"

namespace vernier::controller {

absl::StatusOr<nlohmann::json> RenderKubernetesJobs(const v1::StudySpec& spec,
                                                    int count,
                                                    const std::string& owner) {
  if (spec.worker().kind() != v1::WorkerSpec::KUBERNETES) {
    return absl::FailedPreconditionError(
        "the study's worker is not of kind kubernetes");
  }
  absl::StatusOr<algorithms::SearchSpace> space =
      algorithms::SearchSpace::Create(spec.parameters());
  if (!space.ok()) return space.status();
  absl::StatusOr<std::unique_ptr<algorithms::Algorithm>> algorithm =
      algorithms::CreateAlgorithm(spec.algorithm().name(),
                                  algorithms::AlgorithmContext{
                                      .space = *std::move(space),
                                      .objective = spec.objective(),
                                      .seed = spec.algorithm().seed(),
                                      .seed_given = spec.algorithm().has_seed(),
                                      .settings = spec.algorithm().settings(),
                                      .spec = spec});
  if (!algorithm.ok()) return algorithm.status();
  absl::StatusOr<std::vector<algorithms::Assignment>> suggestions =
      (*algorithm)->Suggest({}, count);
  if (!suggestions.ok()) return suggestions.status();
  const v1::KubernetesWorkerSpec& k8s = spec.worker().kubernetes();
  nlohmann::json items = nlohmann::json::array();
  int number = 0;
  for (const algorithms::Assignment& assignment : *suggestions) {
    v1::Trial trial;
    trial.set_id(++number);
    trial.set_number(number);
    *trial.mutable_parameters() = assignment;
    absl::StatusOr<trial_runner::TrialLaunch> launch =
        LaunchBasics(spec, trial);
    if (!launch.ok()) return launch.status();
    if (spec.trials().has_max_runtime()) {
      launch->max_runtime =
          absl::Seconds(spec.trials().max_runtime().seconds());
    }
    launch->working_dir = spec.worker().working_dir();
    const kubernetes::TrialJob job =
        kubernetes::TrialJobFromLaunch(*launch, owner, k8s.report_endpoint());
    absl::StatusOr<nlohmann::json> manifest = kubernetes::BuildJob(k8s, job);
    if (!manifest.ok()) return manifest.status();
    const std::string name = (*manifest)["metadata"]["name"];
    items.push_back(*std::move(manifest));
    items.push_back(
        kubernetes::BuildTokenSecret(k8s, job, name, "", "<token>"));
  }
  return nlohmann::json{
      {"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}};
}

}  // namespace vernier::controller
