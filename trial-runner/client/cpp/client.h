// The C++ client that training code links to report to Vernier.
//
// A worker that Vernier launches finds its trial in the environment:
// VERNIER_ENDPOINT (HOST:PORT of the gRPC endpoint), VERNIER_TRIAL_ID and
// VERNIER_TOKEN (the trial's own secret), and, when the endpoint serves TLS,
// VERNIER_TLS_CA (the path of a PEM file with the CA certificates to trust).
//
//   auto trial = vernier::client::Trial::FromEnvironment().value();
//   double lr = trial->Double("lr").value();
//   int64_t batch = trial->Int("batch").value();
//   for (int epoch = 1; epoch <= 10; ++epoch) {
//     double loss = Train(lr);
//     if (trial->Report(epoch, {{"loss", loss}}).value()) break;  // stop
//   }
//   trial->Complete({{"loss", loss}}).IgnoreError();
//
// Every call of the TrialService RPCs carries the token as
// `authorization: Bearer TOKEN` metadata, has a deadline, and is retried with
// exponential backoff when it fails with UNAVAILABLE or DEADLINE_EXCEEDED.
// Errors are the server's codes (PERMISSION_DENIED for a wrong token,
// NOT_FOUND for an unknown trial, FAILED_PRECONDITION for a trial that has
// ended, ...) with a message that names the RPC.
#ifndef VERNIER_TRIAL_RUNNER_CLIENT_CPP_CLIENT_H_
#define VERNIER_TRIAL_RUNNER_CLIENT_CPP_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "trial-runner/client/cpp/report_stream.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::client {

// A parameter's value, typed by the study's spec (which GetTrial sends with
// the trial): an int64_t for INT, a double for DOUBLE and DISCRETE, a string
// for CATEGORICAL. A number the spec does not type is a double.
using ParamValue = std::variant<double, int64_t, std::string>;

// How a Trial talks to its endpoint. The defaults suit a worker; tests shorten
// the waits.
struct TrialOptions {
  // PEM text of the CA certificates that the endpoint's certificate must chain
  // to. Unset: a plaintext channel (the endpoint is on loopback).
  std::optional<std::string> tls_ca_pem;
  // Deadline of each attempt of each RPC.
  absl::Duration call_timeout = absl::Seconds(10);
  // Attempts per RPC, the first included (at least 1).
  int max_attempts = 5;
  // Wait before the second attempt; doubled for each further one, up to
  // max_backoff.
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(3);
};

// The variables a worker is started with.
struct WorkerEnvironment {
  std::string endpoint;  // VERNIER_ENDPOINT
  int64_t trial_id = 0;  // VERNIER_TRIAL_ID
  std::string token;     // VERNIER_TOKEN
  // VERNIER_TLS_CA; empty when unset.
  std::string tls_ca_path;
};

// Returns the value of an environment variable, or nullopt when it is unset.
using EnvLookup =
    std::function<std::optional<std::string>(const std::string& name)>;

// Reads the worker's variables through `lookup` (the process environment by
// default). FAILED_PRECONDITION naming the variable when VERNIER_ENDPOINT,
// VERNIER_TRIAL_ID or VERNIER_TOKEN is unset or empty, or when
// VERNIER_TRIAL_ID is not a positive integer. Reads no file.
absl::StatusOr<WorkerEnvironment> ReadWorkerEnvironment(
    const EnvLookup& lookup = nullptr);

// Whether a call that failed with `code` may succeed if tried again
// (UNAVAILABLE, DEADLINE_EXCEEDED): what Report and ReportAsync retry.
bool IsTransient(absl::StatusCode code);

// `status` as an absl::Status with the same code; the message is prefixed by
// `rpc`, the name of the call that failed. OK stays OK.
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view rpc);

// One trial, as its training code sees it. Thread-safe: every method may be
// called from any thread. params() and the getters read data fixed at
// connection; should_stop() reads an atomic that Report sets.
class Trial final {
 public:
  // Connects to the trial the worker's environment names (see
  // ReadWorkerEnvironment), reading the VERNIER_TLS_CA file when it is set
  // (FAILED_PRECONDITION naming it when it cannot be read); otherwise as
  // Connect, with `options.tls_ca_pem` replaced by that file's text.
  static absl::StatusOr<std::unique_ptr<Trial>> FromEnvironment(
      TrialOptions options = {});

  // Connects to `endpoint` (HOST:PORT) and fetches trial `trial_id` with
  // GetTrial. Fails with the server's code (PERMISSION_DENIED for a wrong
  // token, NOT_FOUND for an unknown trial), UNAVAILABLE when the endpoint
  // cannot be reached within the attempts, or INTERNAL naming the parameter
  // when a value is neither a number nor a string, or an INT's number is not
  // an integer within int64.
  static absl::StatusOr<std::unique_ptr<Trial>> Connect(
      const std::string& endpoint, int64_t trial_id, const std::string& token,
      TrialOptions options = {});

  Trial(const Trial&) = delete;
  Trial& operator=(const Trial&) = delete;
  ~Trial();

  int64_t id() const { return id_; }
  // 1, 2, 3... within the study.
  int number() const { return number_; }
  // Every parameter of the trial, by name.
  const std::map<std::string, ParamValue>& params() const { return params_; }

  // A parameter's value. NOT_FOUND naming the parameter when the trial has
  // none of that name; INVALID_ARGUMENT when its value does not fit the type:
  // Double takes any number (an INT's converted), Int an INT's value or an
  // integral double within int64 (a DISCRETE of whole numbers), String a
  // CATEGORICAL's string.
  absl::StatusOr<double> Double(const std::string& name) const;
  absl::StatusOr<int64_t> Int(const std::string& name) const;
  absl::StatusOr<std::string> String(const std::string& name) const;

  // Reports the metrics measured at `step` (an epoch, an iteration: any
  // non-negative count that grows). Returns once the server has stored them,
  // with whether the trial should stop (early stopping, the budget, a user's
  // stop); the training code should then end its work. Retrying is safe: the
  // server keeps one value per (trial, step, metric). On error nothing is
  // known to be stored and should_stop() is unchanged.
  absl::StatusOr<bool> Report(int64_t step,
                              const std::map<std::string, double>& metrics);

  // Queues the metrics of `step` to be stored and returns at once: for
  // training code that reports more often than it wants to wait a round trip
  // (Report waits for each). Queued reports go in order over one stream
  // (TrialService.StreamMeasurements, see report_stream.h), several per
  // request when they come faster than the network, and are resent after a
  // transient failure as Report retries. `done`, if given, is called once on
  // a gRPC thread with the answer that stored the report (whether the trial
  // should stop) or the error that lost it; should_stop() follows the answers
  // too. Returns the permanent error of an earlier queued report, if any:
  // then nothing more is sent.
  absl::Status ReportAsync(
      int64_t step, const std::map<std::string, double>& metrics,
      std::function<void(absl::StatusOr<bool> should_stop)> done = nullptr);

  // Waits until every report queued by ReportAsync so far is stored. The
  // permanent error if one happened; DEADLINE_EXCEEDED after `timeout`.
  absl::Status Flush(absl::Duration timeout = absl::Seconds(60));

  // The answer of the last successful Report (or ReportAsync's
  // acknowledgement); false before any.
  bool should_stop() const { return should_stop_.load(); }

  // Records the final metrics (which should hold the study's objective),
  // after flushing the reports queued by ReportAsync (their error is returned
  // instead, and nothing is recorded). The worker is expected to exit
  // afterwards. FAILED_PRECONDITION when the trial
  // has already ended, which can also be the answer to a retry of a call whose
  // first attempt was stored before its answer was lost.
  absl::Status Complete(const std::map<std::string, double>& metrics);

 private:
  Trial(std::unique_ptr<v1::TrialService::Stub> stub, std::string token,
        TrialOptions options);

  // Runs `rpc_call(context)` until it succeeds, fails with a code that is not
  // transient, or has used options_.max_attempts; each attempt gets a fresh
  // context with the token and a deadline.
  absl::Status CallWithRetry(
      absl::string_view rpc,
      const std::function<grpc::Status(grpc::ClientContext&)>& rpc_call);

  const std::unique_ptr<v1::TrialService::Stub> stub_;
  const std::string token_;
  const TrialOptions options_;

  // Set once in Connect, then read-only.
  int64_t id_ = 0;
  int number_ = 0;
  std::map<std::string, ParamValue> params_;

  std::atomic<bool> should_stop_{false};

  // ReportAsync's stream, made by its first call. Declared after stub_, so
  // that it ends first.
  std::mutex stream_mu_;
  std::unique_ptr<ReportStream> stream_ ABSL_GUARDED_BY(stream_mu_);
};

}  // namespace vernier::client

#endif  // VERNIER_TRIAL_RUNNER_CLIENT_CPP_CLIENT_H_
