// GrpcServer: the gRPC endpoint of a Vernier process.
//
// Serves vernier.v1.StudyService and TrialService, the standard health
// service (grpc.health.v1.Health, SERVING while up) and server reflection (so
// grpcurl and grpc_cli can list and call the services). TLS when a
// certificate and key are given, plaintext otherwise: the CLI binds to
// loopback unless told otherwise, and TLS plus an admin token are for
// anything wider.
//
// Usage:
//   GrpcServerOptions options;
//   options.address = "127.0.0.1:0";  // any free port
//   absl::StatusOr<std::unique_ptr<GrpcServer>> server =
//       GrpcServer::Start(options, manager, store);
//   ... (*server)->address() is "127.0.0.1:41234" ...
//   (*server)->Shutdown(absl::Seconds(5));
//
// Shut the server down before the StudyManager: a call waiting on the
// manager's `done` callback holds up Shutdown until the manager answers it.
#ifndef VERNIER_SERVER_GRPC_SERVER_H_
#define VERNIER_SERVER_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/study_manager.h"
#include "storage/store.h"

namespace vernier::server {

struct GrpcServerOptions {
  // HOST:PORT to listen on; port 0 picks a free port (see GrpcServer::port).
  std::string address = "127.0.0.1:7007";
  // When not empty, every StudyService call must carry
  // `authorization: Bearer ADMIN_TOKEN`. TrialService never needs it.
  std::string admin_token;
  // PEM files; both or neither. With both the server speaks TLS only.
  std::string tls_cert_file, tls_key_file;
  // The largest message received or sent; a larger one fails its call with
  // RESOURCE_EXHAUSTED.
  int max_message_bytes = 4 << 20;
  // Told of each finished TrialService call (training code's reports): the
  // method, its status code, and how long it took from arrival to answer.
  // Runs on gRPC's threads; must be quick. May be empty.
  std::function<void(absl::string_view method, absl::StatusCode code,
                     absl::Duration latency)>
      on_report_rpc;
};

// Thread-safe. The services run on gRPC's threads; Shutdown may be called
// from any thread but one of the server's own handlers.
class GrpcServer final {
 public:
  // Builds and starts the server. `manager` and `store` must outlive it.
  // INVALID_ARGUMENT for options that do not fit together or a TLS file
  // that cannot be read (the message names it); UNAVAILABLE
  // "cannot listen on ADDR" when the address cannot be bound (in use,
  // unknown host). The port is never shared with another process
  // (SO_REUSEPORT is off).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const GrpcServerOptions& options, controller::StudyManager* manager,
      storage::Store* store);

  // Shuts down with a short grace period if Shutdown has not been called.
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The port bound: the one asked for, or the one picked for port 0.
  int port() const { return port_; }
  // HOST:PORT with the port bound ("127.0.0.1:41234"), for clients.
  const std::string& address() const { return address_; }
  bool tls() const { return tls_; }

  // Stops taking calls, lets calls in flight finish until `grace` has
  // passed, then cancels the rest; returns once every call has ended. The
  // health service answers NOT_SERVING meanwhile. Later calls do nothing.
  void Shutdown(absl::Duration grace);

  // Blocks until the server has shut down (from another thread).
  void Wait();

 private:
  GrpcServer(std::unique_ptr<grpc::Service> study_service,
             std::unique_ptr<grpc::Service> trial_service,
             std::unique_ptr<grpc::Server> server, int port,
             std::string address, bool tls);

  // Declared before server_, so they outlive it.
  const std::unique_ptr<grpc::Service> study_service_;
  const std::unique_ptr<grpc::Service> trial_service_;
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  const std::string address_;
  const bool tls_;
  std::once_flag shutdown_once_;
};

}  // namespace vernier::server

#endif  // VERNIER_SERVER_GRPC_SERVER_H_
