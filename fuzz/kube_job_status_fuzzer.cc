// Fuzz target: reading Jobs and pods as the API server (or anything posing as
// it) returns them (trial-runner/kubernetes/job_status.h). Input: one JSON
// object; the same object is read as a Job, as a pod and for its trial label.
#include <cstddef>
#include <cstdint>

#include "nlohmann/json.hpp"
#include "trial-runner/kubernetes/job_status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json object =
      nlohmann::json::parse(data, data + size, nullptr,
                            /*allow_exceptions=*/false);
  if (object.is_discarded()) return 0;
  vernier::kubernetes::ReadJobState(object);
  vernier::kubernetes::PodWaitingReason(object);
  vernier::kubernetes::PodExitCode(object);
  vernier::kubernetes::TrialIdOf(object);
  return 0;
}
