// HttpTransport on libcurl's easy interface: one handle per exchange.
#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "trial-runner/kubernetes/http_transport.h"

namespace vernier::kubernetes {
namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// What the callbacks of one exchange write to.
struct Exchange {
  HttpResponse response;
  const StreamSink* sink = nullptr;  // null: collect the body
  bool stopped_by_sink = false;
  CURL* curl = nullptr;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const absl::string_view line(data, size * count);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after a redirect or 100 Continue): start afresh.
    exchange->response.headers.clear();
  } else if (const size_t colon = line.find(':');
             colon != absl::string_view::npos) {
    exchange->response.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return size * count;
}

// Lets the sink end a quiet stream: libcurl calls this about once a second.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* exchange = static_cast<Exchange*>(user);
  if (exchange->sink == nullptr || (*exchange->sink)("")) return 0;
  exchange->stopped_by_sink = true;
  return 1;  // aborts the transfer
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const absl::string_view chunk(data, size * count);
  long status = 0;
  curl_easy_getinfo(exchange->curl, CURLINFO_RESPONSE_CODE, &status);
  if (exchange->sink == nullptr || status < 200 || status >= 300) {
    exchange->response.body.append(chunk.data(), chunk.size());
    return chunk.size();
  }
  if (!(*exchange->sink)(chunk)) {
    exchange->stopped_by_sink = true;
    return 0;  // aborts the transfer
  }
  return chunk.size();
}

absl::Status FromCurl(CURLcode code, const char* detail) {
  const std::string message =
      absl::StrCat(curl_easy_strerror(code), *detail ? ": " : "", detail);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
      return absl::UnauthenticatedError(message);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

long Millis(absl::Duration d) {
  return d == absl::InfiniteDuration()
             ? 0
             : static_cast<long>(absl::ToInt64Milliseconds(d));
}

class CurlTransport final : public HttpTransport {
 public:
  CurlTransport() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    return Perform(request, nullptr);
  }
  absl::StatusOr<HttpResponse> Stream(const HttpRequest& request,
                                      const StreamSink& sink) override {
    return Perform(request, &sink);
  }

 private:
  absl::StatusOr<HttpResponse> Perform(const HttpRequest& request,
                                       const StreamSink* sink) {
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return absl::InternalError("curl_easy_init failed");
    CURL* c = curl.get();
    Exchange exchange;
    exchange.sink = sink;
    exchange.curl = c;
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     Millis(request.connect_timeout));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, Millis(request.timeout));
    if (!request.body.empty() || request.method == "POST" ||
        request.method == "PUT" || request.method == "PATCH") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    for (const auto& [name, value] : request.headers) {
      const std::string line = absl::StrCat(name, ": ", value);
      headers.reset(curl_slist_append(headers.release(), line.c_str()));
    }
    // libcurl would otherwise wait for "100 Continue" on large bodies.
    headers.reset(curl_slist_append(headers.release(), "Expect:"));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    const TlsSettings& tls = request.tls;
    curl_blob ca{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(),
                 CURL_BLOB_COPY};
    curl_blob cert{const_cast<char*>(tls.client_cert_pem.data()),
                   tls.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(tls.client_key_pem.data()),
                  tls.client_key_pem.size(), CURL_BLOB_COPY};
    if (tls.insecure_skip_verify) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!tls.ca_pem.empty()) {
      curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!tls.client_cert_pem.empty() && !tls.client_key_pem.empty()) {
      curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
      curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &exchange);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &exchange);
    if (sink != nullptr) {
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, &exchange);
    }
    const CURLcode code = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    exchange.response.status = static_cast<int>(status);
    if (code != CURLE_OK && !exchange.stopped_by_sink) {
      // A stream that the server cut after its headers still has a status.
      if (sink != nullptr && status >= 200 && status < 300) {
        return exchange.response;
      }
      return FromCurl(code, error);
    }
    return std::move(exchange.response);
  }
};

}  // namespace

std::unique_ptr<HttpTransport> NewCurlTransport() {
  return std::make_unique<CurlTransport>();
}

}  // namespace vernier::kubernetes
