#include "server/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/study_service.h"
#include "server/trial_service.h"

namespace vernier::server {

namespace {

// The grace period of a server destroyed without Shutdown.
constexpr absl::Duration kDefaultGrace = absl::Seconds(2);

absl::StatusOr<std::string> ReadPemFile(absl::string_view field,
                                        const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (in.is_open()) text << in.rdbuf();
  if (!in.is_open() || in.bad() || text.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": cannot read \"", path, "\""));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const GrpcServerOptions& options) {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert_file and tls_key_file: give both or neither");
  }
  absl::StatusOr<std::string> cert =
      ReadPemFile("tls_cert_file", options.tls_cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key =
      ReadPemFile("tls_key_file", options.tls_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  return grpc::SslServerCredentials(ssl);
}

// `address` with its port replaced by `port`: "127.0.0.1:0" -> ":41234".
std::string WithPort(const std::string& address, int port) {
  const size_t colon = address.rfind(':');
  const std::string host =
      colon == std::string::npos ? address : address.substr(0, colon);
  return absl::StrCat(host, ":", port);
}

void RegisterPluginsOnce() {
  static std::once_flag once;
  std::call_once(
      once, [] { grpc::reflection::InitProtoReflectionServerBuilderPlugin(); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const GrpcServerOptions& options, controller::StudyManager* manager,
    storage::Store* store) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("address: must not be empty");
  }
  if (options.max_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_message_bytes: must be positive, got ",
                     options.max_message_bytes));
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(options);
  if (!credentials.ok()) return credentials.status();

  RegisterPluginsOnce();
  grpc::EnableDefaultHealthCheckService(true);

  auto study_service =
      std::make_unique<StudyServiceImpl>(manager, store, options.admin_token);
  auto trial_service = std::make_unique<TrialServiceImpl>(manager, options.on_report_rpc);

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options.address, *credentials, &selected_port);
  // Without this, a second server could bind the same port and share its
  // connections instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(study_service.get());
  builder.RegisterService(trial_service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.address));
  }

  const bool tls = !options.tls_cert_file.empty();
  std::string address = WithPort(options.address, selected_port);
  spdlog::info("gRPC serving on {} ({}{})", address, tls ? "TLS" : "plaintext",
               options.admin_token.empty() ? "" : ", admin token required");
  return std::unique_ptr<GrpcServer>(new GrpcServer(
      std::move(study_service), std::move(trial_service), std::move(server),
      selected_port, std::move(address), tls));
}

GrpcServer::GrpcServer(std::unique_ptr<grpc::Service> study_service,
                       std::unique_ptr<grpc::Service> trial_service,
                       std::unique_ptr<grpc::Server> server, int port,
                       std::string address, bool tls)
    : study_service_(std::move(study_service)),
      trial_service_(std::move(trial_service)),
      server_(std::move(server)),
      port_(port),
      address_(std::move(address)),
      tls_(tls) {}

GrpcServer::~GrpcServer() { Shutdown(kDefaultGrace); }

void GrpcServer::Shutdown(absl::Duration grace) {
  std::call_once(shutdown_once_, [this, grace] {
    server_->Shutdown(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(grace));
    spdlog::info("gRPC server on {} shut down", address_);
  });
}

void GrpcServer::Wait() { server_->Wait(); }

}  // namespace vernier::server
