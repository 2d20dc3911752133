// The Kubernetes manifests a study's trials would get, for review or
// `kubectl apply --dry-run=server` (`vernier k8s render`).
#ifndef VERNIER_CONTROLLER_KUBERNETES_RENDER_H_
#define VERNIER_CONTROLLER_KUBERNETES_RENDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "vernier/v1/study.pb.h"

namespace vernier::controller {

// A v1 List of the Job and token Secret of each of the first `count` trials
// of `spec` (a valid spec with a kubernetes worker): the algorithm's first
// suggestions, as trials 1..count, owned by `owner`, with the token
// "<token>". FAILED_PRECONDITION for another kind of worker.
absl::StatusOr<nlohmann::json> RenderKubernetesJobs(const v1::StudySpec& spec,
                                                    int count,
                                                    const std::string& owner);

}  // namespace vernier::controller

#endif  // VERNIER_CONTROLLER_KUBERNETES_RENDER_H_
