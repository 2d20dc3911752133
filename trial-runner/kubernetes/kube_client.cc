#include "trial-runner/kubernetes/kube_client.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"
#include "trial-runner/kubernetes/job_status.h"

namespace vernier::kubernetes {
namespace {

bool Retryable(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

// The message of a Kubernetes Status body, or the body itself.
std::string ServerMessage(const std::string& body) {
  const nlohmann::json status = nlohmann::json::parse(body, nullptr, false);
  if (std::string message = StringAt(status, {"message"}); !message.empty()) {
    return message;
  }
  return body.size() > 300 ? body.substr(0, 300) + "..." : body;
}

// Seconds of a Retry-After header (delta-seconds form); zero when absent.
absl::Duration RetryAfter(const HttpResponse& response) {
  const auto it = response.headers.find("retry-after");
  int seconds = 0;
  if (it == response.headers.end() || !absl::SimpleAtoi(it->second, &seconds) ||
      seconds < 0) {
    return absl::ZeroDuration();
  }
  return absl::Seconds(std::min(seconds, 600));
}

}  // namespace

TokenBucket::TokenBucket(double qps, int burst, Clock clock)
    : qps_(qps),
      burst_(std::max(1, burst)),
      clock_(std::move(clock)),
      tokens_(burst_),
      last_(clock_()) {}

absl::Duration TokenBucket::Reserve() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_();
  if (now > last_) {
    tokens_ =
        std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return absl::ZeroDuration();
  return absl::Seconds(-tokens_ / qps_);
}

std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

KubeClient::KubeClient(std::shared_ptr<Credentials> credentials,
                       std::shared_ptr<HttpTransport> transport,
                       KubeClientOptions options)
    : credentials_(std::move(credentials)),
      transport_(std::move(transport)),
      options_(std::move(options)),
      bucket_(options_.qps, options_.burst, options_.clock),
      rng_(options_.jitter_seed) {}

absl::Duration KubeClient::Backoff(int attempt) {
  absl::Duration cap = options_.initial_backoff;
  for (int i = 2; i < attempt && cap < options_.max_backoff; ++i) cap *= 2;
  cap = std::min(cap, options_.max_backoff);
  absl::MutexLock lock(&rng_mu_);
  return cap * std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
}

absl::StatusOr<HttpRequest> KubeClient::NewRequest(absl::string_view method,
                                                   absl::string_view path) {
  absl::StatusOr<RequestCredentials> credentials = credentials_->Get();
  if (!credentials.ok()) return credentials.status();
  const ClusterConfig& cluster = credentials_->config();
  HttpRequest request;
  request.method = std::string(method);
  request.url = absl::StrCat(cluster.server, path);
  request.timeout = options_.request_timeout;
  request.headers["Accept"] = "application/json";
  request.headers["User-Agent"] = "vernier";
  if (!credentials->bearer_token.empty()) {
    request.headers["Authorization"] =
        absl::StrCat("Bearer ", credentials->bearer_token);
  }
  request.tls.ca_pem = cluster.ca_pem;
  request.tls.insecure_skip_verify = cluster.insecure_skip_tls_verify;
  request.tls.client_cert_pem = credentials->client_cert_pem;
  request.tls.client_key_pem = credentials->client_key_pem;
  return request;
}

absl::Status KubeClient::StatusOf(const HttpResponse& response) const {
  const int code = response.status;
  if (code >= 200 && code < 300) return absl::OkStatus();
  const std::string message = ServerMessage(response.body);
  const std::string http = absl::StrCat(" (HTTP ", code, ")");
  switch (code) {
    case 400:
    case 422:
      return absl::InvalidArgumentError(message + http);
    case 401:
      return absl::UnauthenticatedError(
          absl::StrCat("the API server ", cluster().server,
                       " refused the credentials of kubeconfig context '",
                       cluster().context, "' (401 Unauthorized): ", message));
    case 403:
      return absl::PermissionDeniedError(message + http);
    case 404:
      return absl::NotFoundError(message + http);
    case 409:
      return absl::AlreadyExistsError(message + http);
    case 410:
      return absl::OutOfRangeError(message + http);
    case 429:
      return absl::ResourceExhaustedError(message + http);
    default:
      if (code >= 500) return absl::UnavailableError(message + http);
      return absl::UnknownError(message + http);
  }
}

void KubeClient::Observe(absl::string_view method,
                         const absl::StatusOr<HttpResponse>& response) const {
  if (options_.on_request) {
    options_.on_request(method, response.ok() ? response->status : 0);
  }
}

absl::StatusOr<HttpResponse> KubeClient::Exchange(absl::string_view method,
                                                  absl::string_view path,
                                                  const std::string& body) {
  bool refreshed_credentials = false;
  absl::Status last;
  for (int attempt = 1;; ++attempt) {
    if (absl::Duration wait = bucket_.Reserve(); wait > absl::ZeroDuration()) {
      options_.sleep(wait);
    }
    absl::StatusOr<HttpRequest> request = NewRequest(method, path);
    if (!request.ok()) return request.status();
    request->body = body;
    if (!body.empty()) request->headers["Content-Type"] = "application/json";
    absl::StatusOr<HttpResponse> response = transport_->Send(*request);
    Observe(method, response);
    absl::Duration retry_after = absl::ZeroDuration();
    if (!response.ok()) {
      if (!absl::IsUnavailable(response.status())) {
        return absl::Status(
            response.status().code(),
            absl::StrCat("cannot reach the API server ", cluster().server,
                         " (kubeconfig context '", cluster().context,
                         "'): ", response.status().message()));
      }
      last = response.status();
    } else if (response->status == 401 && !refreshed_credentials &&
               (cluster().exec || !cluster().token_file.empty())) {
      // The plugin's token may have been revoked early: ask for a new one.
      credentials_->Invalidate();
      refreshed_credentials = true;
      continue;
    } else if (!Retryable(response->status)) {
      return response;
    } else {
      last = StatusOf(*response);
      retry_after = RetryAfter(*response);
    }
    if (attempt >= options_.max_attempts) {
      if (response.ok()) return response;
      return absl::UnavailableError(
          absl::StrCat("cannot reach the API server ", cluster().server,
                       " after ", attempt, " attempts: ", last.message()));
    }
    const absl::Duration wait = std::max(retry_after, Backoff(attempt + 1));
    spdlog::debug("kubernetes: {} {}: {}; retrying in {}", std::string(method),
                  std::string(path), std::string(last.message()),
                  absl::FormatDuration(wait));
    options_.sleep(wait);
  }
}

absl::StatusOr<nlohmann::json> KubeClient::Call(absl::string_view method,
                                                absl::string_view path,
                                                const nlohmann::json* body) {
  absl::StatusOr<HttpResponse> response =
      Exchange(method, path, body == nullptr ? "" : body->dump());
  if (!response.ok()) return response.status();
  if (absl::Status status = StatusOf(*response); !status.ok()) return status;
  nlohmann::json json = nlohmann::json::parse(response->body, nullptr, false);
  if (json.is_discarded()) {
    return absl::InternalError(absl::StrCat("the API server answered ", method,
                                            " ", path, " with invalid JSON"));
  }
  return json;
}

absl::StatusOr<std::string> KubeClient::GetText(absl::string_view path) {
  absl::StatusOr<HttpResponse> response = Exchange("GET", path, "");
  if (!response.ok()) return response.status();
  if (absl::Status status = StatusOf(*response); !status.ok()) return status;
  return std::move(response->body);
}

absl::Status KubeClient::Watch(absl::string_view path,
                               const WatchHandler& handler,
                               const std::function<bool()>& cancelled) {
  if (absl::Duration wait = bucket_.Reserve(); wait > absl::ZeroDuration()) {
    options_.sleep(wait);
  }
  absl::StatusOr<HttpRequest> request = NewRequest("GET", path);
  if (!request.ok()) return request.status();
  // The server ends a watch after its timeoutSeconds; this is a backstop.
  request->timeout = absl::Minutes(30);
  std::string pending;
  absl::Status event_error;
  bool was_cancelled = false;
  const auto sink = [&](absl::string_view chunk) {
    if (cancelled()) {
      was_cancelled = true;
      return false;
    }
    pending.append(chunk.data(), chunk.size());
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      if (line.empty()) continue;
      const nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
      const std::string type = StringAt(event, {"type"});
      if (type.empty() || !JsonAt(event, {"object"}).is_object()) {
        event_error = absl::InternalError(
            absl::StrCat("malformed watch event: ", line.substr(0, 200)));
        return false;
      }
      if (type == "ERROR") {
        const nlohmann::json& code_node = JsonAt(event, {"object", "code"});
        const int64_t code =
            code_node.is_number_integer() ? code_node.get<int64_t>() : 0;
        const std::string message = StringAt(event, {"object", "message"});
        event_error = code == 410 ? absl::OutOfRangeError(message)
                                  : absl::UnavailableError(absl::StrCat(
                                        "watch error ", code, ": ", message));
        return false;
      }
      handler(type, event["object"]);
    }
    return true;
  };
  absl::StatusOr<HttpResponse> response = transport_->Stream(*request, sink);
  Observe("GET", response);
  if (was_cancelled) return absl::CancelledError("watch cancelled");
  if (!response.ok()) return response.status();
  if (absl::Status status = StatusOf(*response); !status.ok()) {
    if (response->status == 401) credentials_->Invalidate();
    return status;
  }
  return event_error;
}

}  // namespace vernier::kubernetes
