// What a Job's pod asks the scheduler for, read from its manifest: the sums
// of its containers' resource requests, which is what a cluster reserves for
// it and what Vernier prices a Kubernetes trial by.
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_RESOURCE_REQUESTS_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_RESOURCE_REQUESTS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace vernier::kubernetes {

// The GPU resource name Vernier prices (gpu_hour).
inline constexpr char kGpuResource[] = "nvidia.com/gpu";

struct PodRequests {
  double gpus = 0;       // nvidia.com/gpu
  double cpus = 0;       // cores ("500m" is 0.5)
  double memory_gb = 0;  // GiB, as cloud price lists mean "GB" (2^30 bytes)
};

// A Kubernetes quantity ("4", "500m", "1.5", "16Gi", "512M", "1e3") as a
// number in its base unit (cores, bytes, devices). INVALID_ARGUMENT for text
// that is not one.
absl::StatusOr<double> ParseQuantity(absl::string_view text);

// The requests of every container of `job`'s pod template (a batch/v1 Job),
// summed; a resource a container only limits counts at its limit, as the
// API server defaults the request to it. Init containers are not counted.
// INVALID_ARGUMENT naming the container and resource for a quantity that
// cannot be read.
absl::StatusOr<PodRequests> PodRequestsOf(const nlohmann::json& job);

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_RESOURCE_REQUESTS_H_
