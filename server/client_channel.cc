#include "server/client_channel.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "server/auth.h"

namespace vernier::server {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const ClientChannelOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("address: must not be empty");
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(options.max_message_bytes);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    std::ifstream in(options.tls_ca_file, std::ios::binary);
    std::stringstream pem;
    if (in.is_open()) pem << in.rdbuf();
    if (!in.is_open() || in.bad() || pem.str().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tls_ca_file: cannot read \"", options.tls_ca_file, "\""));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      arguments.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  return grpc::CreateCustomChannel(options.address, credentials, arguments);
}

void PrepareClientContext(grpc::ClientContext* context, absl::string_view token,
                          absl::Duration timeout) {
  SetBearerToken(context, token);
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(timeout));
  }
}

}  // namespace vernier::server
