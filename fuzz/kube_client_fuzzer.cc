// Fuzz target: the Kubernetes REST client's reading of what the API server
// answers (trial-runner/kubernetes/kube_client.h), through a scripted
// transport. Input: a response body. It is read as a 200 answer to a call, as
// the Status body of a 409 and of a 401, and as a watch stream, whole and cut
// into 61-byte chunks (so that events straddle chunks), with each watched
// object read as the executor reads Jobs and pods.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trial-runner/kubernetes/credentials.h"
#include "trial-runner/kubernetes/fake_transport.h"
#include "trial-runner/kubernetes/job_status.h"
#include "trial-runner/kubernetes/kube_client.h"

namespace vernier::kubernetes {
namespace {

constexpr char kJobsPath[] = "/apis/batch/v1/namespaces/ml/jobs";
constexpr size_t kChunkBytes = 61;

void ReadBody(const std::string& body) {
  ClusterConfig cluster;
  cluster.context = "fuzz";
  cluster.server = "https://kubernetes.fuzz.invalid";
  cluster.token = "fuzz-token";
  auto credentials = std::make_shared<Credentials>(
      cluster, [](const auto&, const auto&) { return std::string(); },
      [] { return absl::UnixEpoch(); });
  auto transport = std::make_shared<FakeTransport>();
  KubeClientOptions options;
  options.max_attempts = 1;
  options.clock = [] { return absl::UnixEpoch(); };
  options.sleep = [](absl::Duration) {};
  options.jitter_seed = 1;
  KubeClient client(credentials, transport, options);

  transport->Push(200, body);
  client.Call("GET", kJobsPath).status().IgnoreError();
  transport->Push(409, body);
  client.Call("POST", kJobsPath).status().IgnoreError();
  transport->Push(401, body);
  client.GetText("/api/v1/namespaces/ml/pods/p/log").status().IgnoreError();

  std::vector<std::string> chunks;
  for (size_t at = 0; at < body.size(); at += kChunkBytes) {
    chunks.push_back(body.substr(at, kChunkBytes));
  }
  const WatchHandler handler = [](const std::string&,
                                  const nlohmann::json& object) {
    ReadJobState(object);
    PodWaitingReason(object);
    PodExitCode(object);
    TrialIdOf(object);
  };
  const auto never = [] { return false; };
  transport->PushStream({body});
  client.Watch(std::string(kJobsPath) + "?watch=1", handler, never)
      .IgnoreError();
  transport->PushStream(chunks);
  client.Watch(std::string(kJobsPath) + "?watch=1", handler, never)
      .IgnoreError();
}

}  // namespace
}  // namespace vernier::kubernetes

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vernier::kubernetes::ReadBody(
      std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
