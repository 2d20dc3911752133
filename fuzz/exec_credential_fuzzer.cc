// Fuzz target: a kubeconfig exec plugin's ExecCredential output
// (trial-runner/kubernetes/credentials.h), which a plugin of the user's
// choice prints. Input: the plugin's stdout.
#include <cstddef>
#include <cstdint>
#include <string>

#include "trial-runner/kubernetes/credentials.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  vernier::kubernetes::ParseExecCredential(json).IgnoreError();
  return 0;
}
