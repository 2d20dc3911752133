// Fuzz target: the kubeconfig parser (trial-runner/kubernetes/kubeconfig.h).
// Input: a kubeconfig file's text, written to a temporary file that
// $KUBECONFIG names, then resolved for its current context and for the
// context "fuzz". Files it names are read (that is what resolving does), so
// run it only where any file may be read.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "trial-runner/kubernetes/kubeconfig.h"

namespace {

// A file, made once, that each input overwrites.
const std::string& KubeconfigPath() {
  static const std::string* path = [] {
    std::string pattern = "/tmp/vernier-fuzz-kubeconfig-XXXXXX";
    const int fd = mkstemp(pattern.data());
    if (fd < 0) {
      std::perror("mkstemp");
      std::abort();
    }
    close(fd);
    std::atexit([] { std::remove(KubeconfigPath().c_str()); });
    return new std::string(pattern);
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = KubeconfigPath();
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) std::abort();
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  vernier::kubernetes::KubeconfigSources sources;
  sources.kubeconfig_env = path;
  sources.in_cluster_root = "/nonexistent";
  vernier::kubernetes::ResolveCluster(sources, "").status().IgnoreError();
  vernier::kubernetes::ResolveCluster(sources, "fuzz").status().IgnoreError();
  return 0;
}
