// The reporting clients of bench/ingest over gRPC, in this process or in a
// child process of their own (so that the server's CPU and the clients' CPU
// are measured apart, and the clients stand where training code stands: in
// another process).
#ifndef VERNIER_BENCH_GRPC_CLIENTS_H_
#define VERNIER_BENCH_GRPC_CLIENTS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/ingest_fixture.h"
#include "bench/report_load.h"
#include "trial-runner/client/cpp/client.h"
#include "vernier/v1/service.grpc.pb.h"
#include "vernier/v1/study.pb.h"

namespace vernier::bench {

// Step `step` with `metrics` metrics (at most 8), no time: the server stamps
// it, as it does for the clients of training code.
v1::Measurement MakeMeasurement(int64_t step, int metrics);
// Steps first_step .. first_step + count - 1, each as MakeMeasurement.
std::vector<v1::Measurement> MakeMeasurements(int64_t first_step, int count,
                                              int metrics);

// One client's connection. Channels made here use a local subchannel pool,
// so each is a TCP connection of its own.
struct GrpcClient {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::TrialService::Stub> stub;
};

// `n` clients over `channels` channels (client i uses channel i % channels),
// each connected (or given up on after 10 s).
std::vector<GrpcClient> ConnectClients(const std::string& address, int n,
                                       int channels);

// Client i reports for trials[i] with its token, on the callback API, with a
// 30 s deadline. `clients` and `trials` must outlive the function.
ReportFn GrpcReporter(const std::vector<GrpcClient>& clients,
                      const std::vector<BenchTrial>& trials, int metrics);

// Client i reports for trials[i] as training code does with the C++ client
// library: Trial::ReportAsync (trial-runner/client/cpp/client.h), one
// StreamMeasurements stream per trial, over its own channel. A report of
// several measurements is answered once all of them are. Flush() waits for
// every stream's reports to be answered.
class AsyncReporter {
 public:
  // Connects each client (GetTrial). UNAVAILABLE and such from Connect.
  static absl::StatusOr<std::unique_ptr<AsyncReporter>> Connect(
      const std::string& address, const std::vector<BenchTrial>& trials,
      int metrics);

  // Valid while this object lives.
  ReportFn AsReportFn();
  absl::Status Flush();

 private:
  explicit AsyncReporter(int metrics) : metrics_(metrics) {}

  std::vector<std::unique_ptr<client::Trial>> trials_;
  const int metrics_;
};

// Which RPC the clients call.
enum class ReportRpc { kUnary, kStream };

struct ClientProcessPlan {
  std::string address;
  int channels = 1;
  int metrics = 3;
  ReportRpc rpc = ReportRpc::kStream;
  LoadOptions load;                // start_at_ns is set by RunInClientProcess
  std::vector<BenchTrial> trials;  // one per client
};

// Runs the load in a child process (this program again, see
// ClientProcessMain) and returns what it measured; `on_start` gets the
// load's start time (steady_clock ns) once the child has connected, so the
// caller can measure its own side over the same window. Files go in `dir`.
absl::StatusOr<LoadResult> RunInClientProcess(
    const ClientProcessPlan& plan, const std::string& dir,
    const std::function<void(int64_t start_at_ns)>& on_start);

// The child's side: the main of `ingest --client-process PLAN OUT`. Reads the
// plan, connects, writes "ready" on stdout, reads the start time from stdin,
// runs the load and writes the result to OUT. Returns the exit code.
int ClientProcessMain(const std::string& plan_path,
                      const std::string& out_path);

}  // namespace vernier::bench

#endif  // VERNIER_BENCH_GRPC_CLIENTS_H_
