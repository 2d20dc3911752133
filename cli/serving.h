// What `vernier run` and `vernier serve` share: turning SIGINT/SIGTERM into a
// clean stop, and bringing up the manager with its gRPC endpoint and its
// HTTP port (dashboard, JSON API, /metrics).
#ifndef VERNIER_CLI_SERVING_H_
#define VERNIER_CLI_SERVING_H_

#include <atomic>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "controller/study_manager.h"
#include "server/grpc_server.h"
#include "storage/observed_store.h"
#include "storage/store.h"
#include "web/http_server.h"
#include "web/live_updates.h"
#include "web/metrics.h"

namespace vernier::cli {

// Calls a handler for each SIGINT or SIGTERM, on a thread of its own. The
// signals are blocked in every thread, so construct it before any other
// thread starts.
class SignalWatcher {
 public:
  SignalWatcher();
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // `on_signal` gets how many signals have arrived so far (1 for the first).
  void Start(std::function<void(int count)> on_signal);
  // Stops watching (a handler running is waited for); signals stay blocked.
  void Stop();

 private:
  sigset_t signals_;
  std::atomic<bool> done_ = false;
  std::thread thread_;
};

// The token a --admin-token-file holds (surrounding white space dropped).
// INVALID_ARGUMENT naming the file when it cannot be read or is empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// How a serving process watches itself: the Prometheus metrics and the feed
// of live updates (which counts trials started and finished into them).
// Made before the database is opened, since its commits are measured, and
// kept until Serving has shut down.
struct Observability {
  web::Metrics metrics;
  web::LiveUpdates live{web::LiveUpdates::TrialTransitions{
      .started = [this] { metrics.TrialStarted(); },
      .finished = [this](v1::Trial::State state) {
        metrics.TrialFinished(state);
      }}};
};

// Opens the SQLite database at `path`, its commits measured into `metrics`.
// Test-only: $VERNIER_TEST_STORAGE_LIMITS names a limits file that fakes a
// full disk or a read-only database (see storage/writer_limits.h).
absl::StatusOr<std::unique_ptr<storage::Store>> OpenDatabase(
    const std::string& path, web::Metrics* metrics);

// A manager whose local trials report to a gRPC server of the same process,
// and the HTTP server that shows it all. Every write goes through `store`,
// which tells `observability->live` of it.
struct Serving {
  std::unique_ptr<storage::ObservedStore> store;
  std::unique_ptr<controller::StudyManager> manager;
  std::unique_ptr<server::GrpcServer> server;
  std::unique_ptr<web::HttpServer> http;

  // Stops taking calls, then stops every study's workers.
  void Shutdown();
};

// Starts the gRPC server on `grpc` options, a manager whose trials log
// beside the database at `db_path`, report to that server and find the
// bundled Python client on their PYTHONPATH (and, with TLS, the server's
// certificate as VERNIER_TLS_CA), and the HTTP server on `http` options.
// Kubernetes trials run as Jobs of `k8s.owner`, at most `k8s.max_jobs` at
// once. `options` gives the progress callbacks.
// `database` and `observability` must outlive the Serving.
absl::StatusOr<Serving> StartServing(storage::Store* database,
                                     const std::string& db_path,
                                     const server::GrpcServerOptions& grpc,
                                     const web::HttpServerOptions& http,
                                     const KubernetesArgs& k8s,
                                     controller::StudyManagerOptions options,
                                     Observability* observability);

}  // namespace vernier::cli

#endif  // VERNIER_CLI_SERVING_H_
