#include "server/auth.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vernier::server {

namespace {

constexpr absl::string_view kBearerPrefix = "Bearer ";

}  // namespace

std::string BearerToken(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(kAuthorizationKey);
  if (it == metadata.end()) return "";
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, kBearerPrefix)) return "";
  value.remove_prefix(kBearerPrefix.size());
  return std::string(absl::StripAsciiWhitespace(value));
}

absl::Status CheckAdminToken(const grpc::CallbackServerContext& context,
                             absl::string_view admin_token) {
  if (admin_token.empty()) return absl::OkStatus();
  const std::string token = BearerToken(context);
  if (token.empty()) return absl::PermissionDeniedError("missing admin token");
  if (!TokensEqual(token, admin_token)) {
    return absl::PermissionDeniedError("wrong admin token");
  }
  return absl::OkStatus();
}

bool TokensEqual(absl::string_view a, absl::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  // Walks the longer string whole, so the time depends on lengths only.
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    difference |= x ^ y;
  }
  return difference == 0;
}

void SetBearerToken(grpc::ClientContext* context, absl::string_view token) {
  if (token.empty()) return;
  context->AddMetadata(kAuthorizationKey, absl::StrCat(kBearerPrefix, token));
}

}  // namespace vernier::server
