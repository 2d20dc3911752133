// Tokens in call metadata: `authorization: Bearer TOKEN`.
//
// Trial reporting carries the trial's own token; study management carries
// the server's admin token when the server has one. Both travel the same way,
// so the server reads and the client writes them here only.
#ifndef VERNIER_SERVER_AUTH_H_
#define VERNIER_SERVER_AUTH_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vernier::server {

// The metadata key (gRPC keys are lowercase).
inline constexpr char kAuthorizationKey[] = "authorization";

// The TOKEN of the call's `authorization: Bearer TOKEN` metadata (the scheme
// is matched without regard to case); empty when there is none.
std::string BearerToken(const grpc::CallbackServerContext& context);

// OK when `admin_token` is empty (the server has none) or the call carries
// it; PERMISSION_DENIED "missing admin token" or "wrong admin token".
absl::Status CheckAdminToken(const grpc::CallbackServerContext& context,
                             absl::string_view admin_token);

// Whether two tokens are equal, taking a time that does not depend on where
// they first differ.
bool TokensEqual(absl::string_view a, absl::string_view b);

// Adds `authorization: Bearer TOKEN` to a call; does nothing for an empty
// token. Call before the call starts.
void SetBearerToken(grpc::ClientContext* context, absl::string_view token);

}  // namespace vernier::server

#endif  // VERNIER_SERVER_AUTH_H_
