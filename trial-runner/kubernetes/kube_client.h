// KubeClient: calls to a Kubernetes API server, as a well-behaved client.
//
// Every request passes a client-side rate limit (a token bucket), carries the
// context's credentials (refreshed after a 401 when they come from a plugin
// or a token file), and is retried with exponential backoff and jitter on
// 429, 5xx and broken connections, waiting at least what a Retry-After header
// asks. HTTP errors become statuses whose message is the API server's own:
//   400, 422 -> INVALID_ARGUMENT     401 -> UNAUTHENTICATED (names the context)
//   403 -> PERMISSION_DENIED         404 -> NOT_FOUND
//   409 -> ALREADY_EXISTS            410 -> OUT_OF_RANGE (resourceVersion gone)
//   429 -> RESOURCE_EXHAUSTED        5xx -> UNAVAILABLE (after the retries)
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_KUBE_CLIENT_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_KUBE_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "trial-runner/kubernetes/credentials.h"
#include "trial-runner/kubernetes/http_transport.h"

namespace vernier::kubernetes {

// A token bucket: `qps` tokens a second, at most `burst` saved up.
// Thread-safe.
class TokenBucket {
 public:
  TokenBucket(double qps, int burst, Clock clock);
  // Takes one token; returns how long the caller must wait before using it
  // (zero when one was saved up). Tokens are reserved in order of calls.
  absl::Duration Reserve();

 private:
  const double qps_;
  const double burst_;
  const Clock clock_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);  // negative: reserved ahead
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

struct KubeClientOptions {
  // The client-side rate limit over all requests of this client.
  double qps = 20;
  int burst = 40;
  // Attempts of one request, the first included, on 429, 5xx and transport
  // failures.
  int max_attempts = 6;
  // Attempt n waits a random time in [1/2, 1] of
  // min(max_backoff, initial_backoff * 2^(n-1)), or a Retry-After when it
  // is longer.
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(30);
  absl::Duration request_timeout = absl::Seconds(30);
  Clock clock = [] { return absl::Now(); };
  std::function<void(absl::Duration)> sleep = [](absl::Duration d) {
    absl::SleepFor(d);
  };
  uint64_t jitter_seed = std::random_device{}();
  // Told of each HTTP exchange with the API server (every attempt of a
  // request, every watch stream): its method and HTTP status, 0 when no
  // answer came (a broken connection, a timeout). Thread-safe; may be empty.
  std::function<void(absl::string_view method, int http_status)> on_request;
};

// One watch event: type is ADDED, MODIFIED, DELETED or BOOKMARK.
using WatchHandler =
    std::function<void(const std::string& type, const nlohmann::json& object)>;

// Thread-safe.
class KubeClient {
 public:
  KubeClient(std::shared_ptr<Credentials> credentials,
             std::shared_ptr<HttpTransport> transport,
             KubeClientOptions options = {});
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // `method` on `path` ("/apis/batch/v1/namespaces/ml/jobs?labelSelector=..")
  // with `body` as JSON when not null; the response's JSON.
  absl::StatusOr<nlohmann::json> Call(absl::string_view method,
                                      absl::string_view path,
                                      const nlohmann::json* body = nullptr);

  // A plain-text GET (pod logs).
  absl::StatusOr<std::string> GetText(absl::string_view path);

  // Streams the watch at `path` (which carries watch=1 and resourceVersion)
  // to `handler`, one event at a time, until the server ends the stream (OK:
  // resume from the last resourceVersion seen) or `cancelled` returns true
  // (CANCELLED; polled about once a second). An ERROR event or a 410 answer
  // is OUT_OF_RANGE when the resourceVersion is too old (list again).
  // Not retried: the caller's watch loop backs off with Backoff.
  absl::Status Watch(absl::string_view path, const WatchHandler& handler,
                     const std::function<bool()>& cancelled);

  // How long to wait before attempt `attempt` (2, 3, ...) of something that
  // failed, per the options' backoff with jitter.
  absl::Duration Backoff(int attempt);

  const ClusterConfig& cluster() const { return credentials_->config(); }

 private:
  absl::StatusOr<HttpResponse> Exchange(absl::string_view method,
                                        absl::string_view path,
                                        const std::string& body);
  absl::StatusOr<HttpRequest> NewRequest(absl::string_view method,
                                         absl::string_view path);
  absl::Status StatusOf(const HttpResponse& response) const;
  // Tells options_.on_request of one exchange.
  void Observe(absl::string_view method,
               const absl::StatusOr<HttpResponse>& response) const;

  const std::shared_ptr<Credentials> credentials_;
  const std::shared_ptr<HttpTransport> transport_;
  const KubeClientOptions options_;
  TokenBucket bucket_;
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
};

// "a=b,c=d" escaped for a query string.
std::string UrlEncode(absl::string_view text);

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_KUBE_CLIENT_H_
