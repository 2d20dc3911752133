// Metrics: every Prometheus family Vernier exports, declared in this one
// place and served at /metrics of the HTTP server (prometheus-cpp's Registry
// and TextSerializer; no second port).
//
// Gauges of what the database holds (studies and trials by state, running
// trials) are refreshed from the store at each scrape, with two queries
// whatever the number of trials. Counters and histograms are fed by hooks
// that the other modules expose as plain callbacks (so that only this file
// knows prometheus-cpp):
//   vernier_trials_started_total, vernier_trials_finished_total{state}
//       LiveUpdates' trial transitions (web/live_updates.h)
//   vernier_report_rpcs_total{rpc,code}, vernier_report_rpc_seconds{rpc}
//       GrpcServerOptions::on_report_rpc (server/grpc_server.h)
//   vernier_suggestion_seconds
//       StudyManagerOptions::on_suggestion (controller/study_manager.h)
//   vernier_gp_fit_seconds
//       StudyManagerOptions::on_model_fit (algorithms/algorithm.h's
//       AlgorithmContext::on_model_fit)
//   vernier_kubernetes_api_requests_total{method,code}
//       KubeClientOptions::on_request (trial-runner/kubernetes/kube_client.h);
//       errors are the codes 4xx, 5xx and "none" (no answer)
//   vernier_storage_write_batch_size, vernier_storage_commit_seconds
//       SqliteStoreOptions::on_commit (storage/sqlite_store.h)
// Gauges of cost and GPUs, also refreshed at each scrape:
//   vernier_study_spend{study,currency}, vernier_study_budget{study,currency}
//       controller::CostLedger's spend (ended attempts plus running ones by
//       the second) and the budget's max_cost; priced studies only, and
//       budget only for studies with one. A priced study's trials are read
//       at each scrape (one query per priced study).
//   vernier_gpus_in_use
//       running trials x their study's worker.gpus_per_trial
//
// Thread-safe: prometheus-cpp metrics are; Serialize serialises scrapes.
#ifndef VERNIER_WEB_METRICS_H_
#define VERNIER_WEB_METRICS_H_

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/store.h"
#include "vernier/v1/study.pb.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace vernier::web {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void TrialStarted();
  void TrialFinished(v1::Trial::State state);
  // One TrialService call: its method name, outcome and duration.
  void ReportRpc(absl::string_view rpc, absl::StatusCode code,
                 absl::Duration latency);
  // One Algorithm::Suggest call of a study.
  void Suggestion(absl::Duration latency);
  // One fit of a model's hyperparameters (AlgorithmContext::on_model_fit).
  void ModelFit(absl::Duration latency);
  // One HTTP exchange with a Kubernetes API server: its method and status,
  // 0 when no answer came.
  void KubernetesRequest(absl::string_view method, int http_status);
  // One storage transaction: how many writes it grouped, how long COMMIT
  // took.
  void StorageCommit(size_t batch_size, absl::Duration commit);

  // Refreshes the gauges from `store`, then returns every family in the
  // Prometheus text format (version 0.0.4).
  absl::StatusOr<std::string> Serialize(storage::Store& store);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* studies_;
  prometheus::Family<prometheus::Gauge>* trials_;
  prometheus::Gauge* running_trials_;
  prometheus::Family<prometheus::Gauge>* study_spend_;
  prometheus::Family<prometheus::Gauge>* study_budget_;
  prometheus::Gauge* gpus_in_use_;
  prometheus::Counter* trials_started_;
  prometheus::Family<prometheus::Counter>* trials_finished_;
  prometheus::Family<prometheus::Counter>* report_rpcs_;
  prometheus::Family<prometheus::Histogram>* report_rpc_seconds_;
  prometheus::Histogram* suggestion_seconds_;
  prometheus::Histogram* model_fit_seconds_;
  prometheus::Family<prometheus::Counter>* kubernetes_requests_;
  prometheus::Histogram* write_batch_size_;
  prometheus::Histogram* commit_seconds_;
  std::mutex scrape_mu_;  // one scrape rebuilds the gauges at a time
};

}  // namespace vernier::web

#endif  // VERNIER_WEB_METRICS_H_
