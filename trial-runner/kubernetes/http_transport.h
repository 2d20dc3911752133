// HttpTransport: one HTTPS exchange with the API server, behind an interface
// so that tests can drive faults (CONVENTIONS: HTTP transport injected).
// CurlTransport is the real one, on libcurl.
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_HTTP_TRANSPORT_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_HTTP_TRANSPORT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vernier::kubernetes {

// How the connection is secured; PEM texts, empty when not used.
struct TlsSettings {
  std::string ca_pem;  // empty: the system's CAs
  bool insecure_skip_verify = false;
  std::string client_cert_pem;
  std::string client_key_pem;
};

struct HttpRequest {
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE
  std::string url;             // absolute, https://...
  // Sent as they are: "Authorization", "Content-Type", ...
  std::map<std::string, std::string> headers;
  std::string body;
  TlsSettings tls;
  absl::Duration connect_timeout = absl::Seconds(10);
  // For the whole exchange (a stream included); InfiniteDuration: none.
  absl::Duration timeout = absl::Seconds(30);
};

struct HttpResponse {
  int status = 0;
  // Header names in lowercase.
  std::map<std::string, std::string> headers;
  // The whole body; for a stream, only a non-2xx response's body.
  std::string body;
};

// Receives a 2xx stream's body as it arrives, in chunks of any size, and an
// empty chunk about once a second while nothing arrives; returns false to end
// the exchange.
using StreamSink = std::function<bool(absl::string_view chunk)>;

class HttpTransport {
 public:
  HttpTransport() = default;
  virtual ~HttpTransport() = default;
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Performs the exchange. An HTTP error status is a response, not an error;
  // errors are transport failures: UNAVAILABLE (cannot connect, reset),
  // DEADLINE_EXCEEDED (timeout), UNAUTHENTICATED (TLS handshake: a server
  // certificate that does not verify, a bad client certificate).
  // Thread-safe.
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;

  // As Send, but a 2xx body goes to `sink` as it arrives instead of into the
  // response. Once a 2xx status arrived, returns the response (OK) when the
  // body ends for any reason: the server ends or cuts it, the timeout
  // passes, or `sink` returns false. Thread-safe.
  virtual absl::StatusOr<HttpResponse> Stream(const HttpRequest& request,
                                              const StreamSink& sink) = 0;
};

// The libcurl transport. Initialises libcurl globally once.
std::unique_ptr<HttpTransport> NewCurlTransport();

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_HTTP_TRANSPORT_H_
