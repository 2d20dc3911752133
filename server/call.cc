#include "server/call.h"

#include <spdlog/spdlog.h>

#include <string>

#include "server/status.h"

namespace vernier::server {

grpc::Status ToLoggedGrpcStatus(absl::string_view method,
                                const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDataLoss:
      spdlog::warn("{}: {}", std::string(method), status.ToString());
      break;
    default:
      break;
  }
  return ToGrpcStatus(status);
}

void FinishCall(grpc::ServerUnaryReactor* reactor, absl::string_view method,
                const absl::Status& status) {
  reactor->Finish(ToLoggedGrpcStatus(method, status));
}

}  // namespace vernier::server
