// The one mapping between absl::Status (the domain's errors) and grpc::Status
// (what crosses the wire). The canonical codes are the same set in both, so a
// code maps to the code of the same name and the message is kept as is.
#ifndef VERNIER_SERVER_STATUS_H_
#define VERNIER_SERVER_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace vernier::server {

// OK maps to grpc::Status::OK; any other status keeps its code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The inverse, for clients: what a call answered, as an absl::Status.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace vernier::server

#endif  // VERNIER_SERVER_STATUS_H_
