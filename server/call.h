// Finishing a callback-API call, shared by the services.
#ifndef VERNIER_SERVER_CALL_H_
#define VERNIER_SERVER_CALL_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vernier::server {

// ToGrpcStatus(status), after logging with `method` a status that points at
// the server rather than the caller (INTERNAL, UNKNOWN, UNAVAILABLE,
// DATA_LOSS). For the end of a call.
grpc::Status ToLoggedGrpcStatus(absl::string_view method,
                                const absl::Status& status);

// Finishes `reactor` with ToLoggedGrpcStatus(method, status). Call exactly
// once per call.
void FinishCall(grpc::ServerUnaryReactor* reactor, absl::string_view method,
                const absl::Status& status);

}  // namespace vernier::server

#endif  // VERNIER_SERVER_CALL_H_
