#include "cli/serving.h"

#include <unistd.h>

#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/files.h"
#include "trial-runner/kubernetes/job_builder.h"
#include "trial-runner/kubernetes/kubernetes_executor.h"
#include "storage/sqlite_store.h"
#include "trial-runner/local/local_executor.h"

namespace vernier::cli {
namespace {

namespace fs = std::filesystem;

// The Python client the build puts beside the binary (build/python), if any.
std::string BundledPythonClient() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (error) return "";
  const fs::path client = exe.parent_path() / "python";
  return fs::exists(client / "vernier" / "__init__.py") ? client.string() : "";
}

// Where local trials reach a server bound to `address` (a wildcard host
// becomes loopback).
std::string LocalEndpoint(const std::string& address, int port) {
  if (absl::StartsWith(address, "0.0.0.0:") ||
      absl::StartsWith(address, "[::]:")) {
    return absl::StrCat("127.0.0.1:", port);
  }
  return address;
}

}  // namespace

SignalWatcher::SignalWatcher() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

SignalWatcher::~SignalWatcher() { Stop(); }

void SignalWatcher::Stop() {
  done_ = true;
  if (thread_.joinable()) thread_.join();
}

void SignalWatcher::Start(std::function<void(int count)> on_signal) {
  thread_ = std::thread([this, on_signal = std::move(on_signal)] {
    int received = 0;
    const timespec poll = {0, 200'000'000};
    while (!done_) {
      if (sigtimedwait(&signals_, nullptr, &poll) < 0) continue;
      on_signal(++received);
    }
  });
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  const std::optional<std::string> content = ReadFile(path);
  std::string token(absl::StripAsciiWhitespace(content.value_or("")));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the token file ", path, " cannot be read or is empty"));
  }
  return token;
}

absl::StatusOr<std::unique_ptr<storage::Store>> OpenDatabase(
    const std::string& path, web::Metrics* metrics) {
  const char* limits = std::getenv("VERNIER_TEST_STORAGE_LIMITS");
  return storage::OpenSqliteStore(
      path, storage::SqliteStoreOptions{
                .on_commit =
                    [metrics](size_t writes, std::chrono::nanoseconds commit) {
                      metrics->StorageCommit(writes, absl::FromChrono(commit));
                    },
                .test_limits_file = limits != nullptr ? limits : ""});
}

void Serving::Shutdown() {
  if (http != nullptr) http->Shutdown();
  if (server != nullptr) server->Shutdown(absl::Seconds(5));
  if (manager != nullptr) manager->Shutdown();
}

namespace {

// The label value that marks this server's Jobs: `owner`, else the host
// name and a hash of the database's path, stable across restarts.
std::string KubernetesOwner(const std::string& owner,
                            const std::string& db_path) {
  if (!owner.empty()) return owner;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  const size_t hash =
      std::hash<std::string>{}(fs::absolute(db_path).lexically_normal());
  return kubernetes::OwnerLabelValue(
      absl::StrCat(host, "-", absl::Hex(hash % 0xffffffffu)));
}

}  // namespace

absl::StatusOr<Serving> StartServing(storage::Store* database,
                                     const std::string& db_path,
                                     const server::GrpcServerOptions& grpc_options,
                                     const web::HttpServerOptions& http,
                                     const KubernetesArgs& k8s,
                                     controller::StudyManagerOptions options,
                                     Observability* observability) {
  web::Metrics* metrics = &observability->metrics;
  server::GrpcServerOptions grpc = grpc_options;
  grpc.on_report_rpc = [metrics](absl::string_view method,
                                 absl::StatusCode code,
                                 absl::Duration latency) {
    metrics->ReportRpc(method, code, latency);
  };
  options.on_suggestion = [metrics](absl::Duration latency) {
    metrics->Suggestion(latency);
  };
  options.on_model_fit = [metrics](absl::Duration latency) {
    metrics->ModelFit(latency);
  };
  options.log_dir =
      (fs::absolute(db_path).parent_path() / "vernier-logs").string();
  options.python_client_path = BundledPythonClient();
  if (!grpc.tls_cert_file.empty()) {
    // Trials trust the server's own certificate (enough for a self-signed
    // one; a CA-signed one chains to roots the client trusts anyway).
    options.report_tls_ca = fs::absolute(grpc.tls_cert_file).string();
  }
  kubernetes::KubeClientOptions client_options;
  client_options.on_request = [metrics](absl::string_view method,
                                        int http_status) {
    metrics->KubernetesRequest(method, http_status);
  };
  options.study_executor = kubernetes::KubernetesExecutorFactory(
      kubernetes::SourcesFromEnvironment(), KubernetesOwner(k8s.owner, db_path),
      k8s.max_jobs, std::move(client_options));
  Serving serving;
  serving.store = std::make_unique<storage::ObservedStore>(
      database, &observability->live);
  storage::Store* store = serving.store.get();
  serving.manager = controller::StudyManager::Create(
      store,
      [](trial_runner::ExecutorEventSink sink) {
        return trial_runner::NewLocalExecutor(std::move(sink));
      },
      std::move(options));
  absl::StatusOr<std::unique_ptr<server::GrpcServer>> server =
      server::GrpcServer::Start(grpc, serving.manager.get(), store);
  if (!server.ok()) return server.status();
  serving.server = *std::move(server);
  serving.manager->SetReportEndpoint(
      LocalEndpoint(serving.server->address(), serving.server->port()));
  absl::StatusOr<std::unique_ptr<web::HttpServer>> http_server =
      web::HttpServer::Start(http, store, serving.manager.get(),
                             &observability->live, metrics);
  if (!http_server.ok()) {
    serving.Shutdown();
    return http_server.status();
  }
  serving.http = *std::move(http_server);
  return serving;
}

}  // namespace vernier::cli
