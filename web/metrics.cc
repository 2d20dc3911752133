#include "web/metrics.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "web/study_cost.h"

namespace vernier::web {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

// Seconds, from a tenth of a millisecond to a minute.
Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10, 30, 60};
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  studies_ = &BuildGauge()
                  .Name("vernier_studies")
                  .Help("Studies in the database, by state")
                  .Register(*registry_);
  trials_ = &BuildGauge()
                 .Name("vernier_trials")
                 .Help("Trials in the database, by study and state")
                 .Register(*registry_);
  running_trials_ = &BuildGauge()
                         .Name("vernier_running_trials")
                         .Help("Trials whose worker runs now, all studies")
                         .Register(*registry_)
                         .Add({});
  study_spend_ = &BuildGauge()
                      .Name("vernier_study_spend")
                      .Help(
                          "What a priced study's trials have cost so far, "
                          "in its currency")
                      .Register(*registry_);
  study_budget_ = &BuildGauge()
                       .Name("vernier_study_budget")
                       .Help("A study's budget (max_cost), in its currency")
                       .Register(*registry_);
  gpus_in_use_ = &BuildGauge()
                      .Name("vernier_gpus_in_use")
                      .Help("GPUs held by running trials, all studies")
                      .Register(*registry_)
                      .Add({});
  trials_started_ = &BuildCounter()
                         .Name("vernier_trials_started_total")
                         .Help("Trial runs started by this process")
                         .Register(*registry_)
                         .Add({});
  trials_finished_ =
      &BuildCounter()
           .Name("vernier_trials_finished_total")
           .Help("Trials that reached a final state in this process")
           .Register(*registry_);
  report_rpcs_ = &BuildCounter()
                      .Name("vernier_report_rpcs_total")
                      .Help(
                          "TrialService calls from training code, by "
                          "method and gRPC status code")
                      .Register(*registry_);
  report_rpc_seconds_ = &BuildHistogram()
                             .Name("vernier_report_rpc_seconds")
                             .Help("TrialService call latency, by method")
                             .Register(*registry_);
  suggestion_seconds_ = &BuildHistogram()
                             .Name("vernier_suggestion_seconds")
                             .Help("Time an algorithm took to suggest trials")
                             .Register(*registry_)
                             .Add({}, LatencyBuckets());
  model_fit_seconds_ =
      &BuildHistogram()
           .Name("vernier_gp_fit_seconds")
           .Help(
               "Time one fit of a GP's hyperparameters (maximising the log "
               "marginal likelihood) took")
           .Register(*registry_)
           .Add({}, LatencyBuckets());
  kubernetes_requests_ =
      &BuildCounter()
           .Name("vernier_kubernetes_api_requests_total")
           .Help(
               "Requests to Kubernetes API servers (each attempt), by method "
               "and HTTP status code; code \"none\" when no answer came")
           .Register(*registry_);
  write_batch_size_ =
      &BuildHistogram()
           .Name("vernier_storage_write_batch_size")
           .Help("Writes grouped into one storage transaction")
           .Register(*registry_)
           .Add({}, Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128,
                                                256, 512, 1024});
  commit_seconds_ = &BuildHistogram()
                         .Name("vernier_storage_commit_seconds")
                         .Help("Time a storage transaction's COMMIT took")
                         .Register(*registry_)
                         .Add({}, LatencyBuckets());
}

Metrics::~Metrics() = default;

void Metrics::TrialStarted() { trials_started_->Increment(); }

void Metrics::TrialFinished(v1::Trial::State state) {
  trials_finished_->Add({{"state", v1::Trial::State_Name(state)}}).Increment();
}

void Metrics::ReportRpc(absl::string_view rpc, absl::StatusCode code,
                        absl::Duration latency) {
  const std::string method(rpc);
  report_rpcs_->Add({{"rpc", method}, {"code", absl::StatusCodeToString(code)}})
      .Increment();
  report_rpc_seconds_->Add({{"rpc", method}}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::Suggestion(absl::Duration latency) {
  suggestion_seconds_->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::ModelFit(absl::Duration latency) {
  model_fit_seconds_->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::KubernetesRequest(absl::string_view method, int http_status) {
  kubernetes_requests_
      ->Add({{"method", std::string(method)},
             {"code", http_status > 0 ? std::to_string(http_status) : "none"}})
      .Increment();
}

void Metrics::StorageCommit(size_t batch_size, absl::Duration commit) {
  write_batch_size_->Observe(static_cast<double>(batch_size));
  commit_seconds_->Observe(absl::ToDoubleSeconds(commit));
}

absl::StatusOr<std::string> Metrics::Serialize(storage::Store& store) {
  std::lock_guard<std::mutex> lock(scrape_mu_);
  absl::StatusOr<std::vector<v1::Study>> studies = store.ListStudies();
  if (!studies.ok()) return studies.status();
  absl::StatusOr<std::vector<storage::TrialStateCount>> counts =
      store.CountTrials();
  if (!counts.ok()) return counts.status();

  // Every state gets a series, zeros included, so a query never sees one
  // vanish when its last study or trial leaves the state.
  std::map<v1::Study::State, int> by_state;
  std::map<int64_t, std::string> names;
  std::map<int64_t, int> gpus_per_trial;
  const absl::Time now = absl::Now();
  for (const v1::Study& study : *studies) {
    ++by_state[study.state()];
    names[study.id()] = study.name();
    gpus_per_trial[study.id()] = study.spec().worker().gpus_per_trial();
    if (controller::HourlyRate(study.spec()) <= 0) continue;
    absl::StatusOr<std::vector<v1::Trial>> trials =
        store.ListTrials(study.id());
    if (!trials.ok()) return trials.status();
    const StudyCost cost = ComputeStudyCost(study, *trials, now);
    const prometheus::Labels labels = {{"study", study.name()},
                                       {"currency", cost.currency}};
    study_spend_->Add(labels).Set(cost.balance.spent);
    if (cost.max_cost.has_value())
      study_budget_->Add(labels).Set(*cost.max_cost);
  }
  for (int state = v1::Study::ACTIVE; state <= v1::Study::STOPPED; ++state) {
    const auto typed = static_cast<v1::Study::State>(state);
    studies_->Add({{"state", v1::Study::State_Name(typed)}})
        .Set(by_state[typed]);
  }
  std::map<std::pair<int64_t, v1::Trial::State>, int64_t> trials;
  int64_t running = 0;
  int64_t gpus = 0;
  for (const storage::TrialStateCount& count : *counts) {
    trials[{count.study_id, count.state}] = count.count;
    if (count.state == v1::Trial::RUNNING) {
      running += count.count;
      gpus += count.count * gpus_per_trial[count.study_id];
    }
  }
  for (const auto& [id, name] : names) {
    for (int state = v1::Trial::PENDING; state <= v1::Trial::INFEASIBLE;
         ++state) {
      const auto typed = static_cast<v1::Trial::State>(state);
      trials_->Add({{"study", name}, {"state", v1::Trial::State_Name(typed)}})
          .Set(static_cast<double>(trials[{id, typed}]));
    }
  }
  running_trials_->Set(static_cast<double>(running));
  gpus_in_use_->Set(static_cast<double>(gpus));
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace vernier::web
