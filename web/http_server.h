// HttpServer: the one HTTP port of a Vernier process (cpp-httplib).
//
//   /                 the dashboard (embedded assets; see web/assets.h)
//   /api/v1/...       the JSON API (web/api.h)
//   /api/v1/events    server-sent events of the process's writes
//                     (?study=NAME for one study's; see web/live_updates.h)
//   /metrics          Prometheus text format (web/metrics.h)
//   /healthz          "ok" while the server runs
//
// Responses are sent uncompressed: cpp-httplib would compress text/* (and
// exactly "application/json" or "application/javascript") for every request
// with Brotli at its slowest quality, which costs seconds on the dashboard's
// 700 KB bundle and its plot data; the JSON API's and the bundle's content
// types carry a charset parameter, which keeps them out of that list. The
// dashboard is for loopback or a local network, where bytes are cheap.
//
// Every response carries a Content-Security-Policy that allows scripts,
// styles and connections from this origin only (the page has no inline
// script), X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer.
//
// Thread-safe: requests run on the server's own pool of threads; an SSE
// stream holds one of them while it is open.
#ifndef VERNIER_WEB_HTTP_SERVER_H_
#define VERNIER_WEB_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "controller/study_manager.h"
#include "storage/store.h"
#include "web/live_updates.h"
#include "web/metrics.h"

namespace httplib {
class Server;
}

namespace vernier::web {

struct HttpServerOptions {
  // HOST:PORT; port 0 picks a free port.
  std::string address = "127.0.0.1:8080";
  // When not empty, the API's actions (stop a study or trial) need
  // `Authorization: Bearer ADMIN_TOKEN`. Reading needs nothing.
  std::string admin_token;
};

class HttpServer {
 public:
  // Binds and starts serving on a thread of its own. Everything passed must
  // outlive the server. INVALID_ARGUMENT for an address that is not
  // HOST:PORT; UNAVAILABLE "cannot listen on ADDR" when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, storage::Store* store,
      controller::StudyManager* manager, LiveUpdates* live, Metrics* metrics);

  // Shuts down if Shutdown has not been called.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // HOST:PORT with the bound port.
  const std::string& address() const { return address_; }
  // http://HOST:PORT/ , the dashboard's address.
  std::string url() const;

  // Closes the event streams and stops taking requests; returns once the
  // server thread has ended. Later calls do nothing.
  void Shutdown();

 private:
  HttpServer(std::unique_ptr<httplib::Server> server, LiveUpdates* live,
             int port, std::string address);

  const std::unique_ptr<httplib::Server> server_;
  LiveUpdates* const live_;
  const int port_;
  const std::string address_;
  std::thread thread_;
};

}  // namespace vernier::web

#endif  // VERNIER_WEB_HTTP_SERVER_H_
