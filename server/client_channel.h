// Talking to a Vernier server: the channel, and the metadata each call
// carries. The CLI's remote subcommands and the tests share these.
//
//   ClientChannelOptions options{.address = "127.0.0.1:7007",
//                                .admin_token = token};
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
//       MakeClientChannel(options);
//   auto stub = v1::StudyService::NewStub(*channel);
//   grpc::ClientContext context;
//   PrepareClientContext(&context, options.admin_token, absl::Seconds(10));
//   grpc::Status status = stub->ListStudies(&context, request, &response);
//   ... FromGrpcStatus(status) (server/status.h) for an absl::Status ...
#ifndef VERNIER_SERVER_CLIENT_CHANNEL_H_
#define VERNIER_SERVER_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vernier::server {

struct ClientChannelOptions {
  // HOST:PORT of the server.
  std::string address;
  // PEM file of the CA that signed the server's certificate: with it the
  // channel speaks TLS, without it plaintext.
  std::string tls_ca_file;
  // The name the server's certificate must carry, when it differs from the
  // host of `address` (e.g. "localhost" for a server reached by IP).
  std::string tls_server_name;
  // The admin token StudyService calls carry; see PrepareClientContext.
  std::string admin_token;
  // The largest message received; a larger answer fails with
  // RESOURCE_EXHAUSTED.
  int max_message_bytes = 4 << 20;
};

// A channel to `options.address`; it connects lazily, on the first call.
// INVALID_ARGUMENT for an empty address or a CA file that cannot be read
// (the message names it).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const ClientChannelOptions& options);

// Readies one call: `authorization: Bearer TOKEN` when `token` is not empty
// (plain metadata, so it works over plaintext loopback too), and a deadline
// `timeout` from now unless it is absl::InfiniteDuration(). Call before the
// call starts; a ClientContext serves one call.
void PrepareClientContext(grpc::ClientContext* context, absl::string_view token,
                          absl::Duration timeout = absl::Seconds(30));

}  // namespace vernier::server

#endif  // VERNIER_SERVER_CLIENT_CHANNEL_H_
