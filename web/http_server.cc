#include "web/http_server.h"

#include <httplib.h>

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "web/api.h"
#include "web/assets.h"

namespace vernier::web {
namespace {

// Threads serving requests; each open event stream holds one.
constexpr size_t kThreads = 32;
// An event stream writes at least this often (a comment when idle), so a
// closed connection is noticed and proxies keep it open.
constexpr absl::Duration kKeepAlive = absl::Seconds(10);

constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void Send(const ApiResponse& api, httplib::Response& response) {
  response.status = api.status;
  response.set_content(api.body, api.content_type.c_str());
  response.set_header("Cache-Control", "no-store");
}

// The event stream: every change of `study_id` (0: of every study) from the
// moment it opens, or after Last-Event-ID when the browser reconnects.
void StreamEvents(LiveUpdates* live, int64_t study_id, int64_t after,
                  httplib::Response& response) {
  response.set_header("Cache-Control", "no-store");
  response.set_header("X-Accel-Buffering", "no");
  response.set_chunked_content_provider(
      "text/event-stream",
      [live, study_id, last = after](size_t, httplib::DataSink& sink) mutable {
        if (live->closed()) return false;
        LiveUpdates::Batch batch = live->Wait(last, study_id, kKeepAlive);
        std::string text;
        if (batch.lost) {
          absl::StrAppend(&text, "id: ", batch.last_sequence,
                          "\nevent: resync\ndata: {}\n\n");
        } else {
          for (const LiveEvent& event : batch.events) {
            absl::StrAppend(&text, "id: ", event.sequence,
                            "\ndata: ", event.json, "\n\n");
          }
        }
        last = batch.last_sequence;
        if (text.empty()) text = ": keep-alive\n\n";
        return sink.write(text.data(), text.size());
      });
}

// A request whose method the path does not take: 405, with the methods it
// does take in `Allow`; JSON under /api/.
void MethodNotAllowed(const httplib::Request& request,
                      httplib::Response& response) {
  const bool action = absl::EndsWith(request.path, ":stop");
  const char* allowed = action ? "POST" : "GET, HEAD";
  const std::string message = absl::StrCat(
      request.method, " is not allowed on this path (", allowed, " is)");
  if (absl::StartsWith(request.path, "/api/")) {
    Send(ErrorResponse(absl::UnimplementedError(message), 405), response);
  } else {
    response.status = 405;
    response.set_content(message + "\n", "text/plain; charset=utf-8");
  }
  response.set_header("Allow", allowed);
}

// HOST:PORT, HOST possibly a bracketed IPv6 address.
bool SplitAddress(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port >= 0 &&
         *port <= 65535;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, storage::Store* store,
    controller::StudyManager* manager, LiveUpdates* live, Metrics* metrics) {
  std::string host;
  int port = 0;
  if (!SplitAddress(options.address, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http: '", options.address, "' is not HOST:PORT"));
  }
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // An idle keep-alive connection holds a thread: let it go soon, so that
  // Shutdown is quick too.
  server->set_keep_alive_timeout(2);
  // Answers go out at once, not after the peer's delayed ACK (Nagle).
  server->set_tcp_nodelay(true);
  auto api = std::make_shared<Api>(store, manager, options.admin_token,
                                   [live] { return live->LastSequence(); });

  server->set_post_routing_handler(
      [](const httplib::Request&, httplib::Response& response) {
        response.set_header("Content-Security-Policy", kContentSecurityPolicy);
        response.set_header("X-Content-Type-Options", "nosniff");
        response.set_header("Referrer-Policy", "no-referrer");
        response.set_header("X-Frame-Options", "DENY");
      });

  server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });
  server->Get("/metrics", [store, metrics](const httplib::Request&,
                                           httplib::Response& res) {
    absl::StatusOr<std::string> text = metrics->Serialize(*store);
    if (!text.ok()) return Send(ErrorResponse(text.status()), res);
    res.set_content(*text, "text/plain; version=0.0.4; charset=utf-8");
  });

  // Study names are [a-z0-9-]; trial ids digits. Anything else is a 404.
  const std::string study = "/api/v1/studies/([^/:]+)";
  server->Get("/api/v1/config", [api](const httplib::Request&,
                                      httplib::Response& res) {
    Send(api->Config(), res);
  });
  server->Get("/api/v1/studies", [api](const httplib::Request& req,
                                       httplib::Response& res) {
    Send(api->ListStudies(req.params), res);
  });
  server->Get(study, [api](const httplib::Request& req, httplib::Response& res) {
    Send(api->GetStudy(req.matches[1].str()), res);
  });
  server->Get(study + "/trials",
              [api](const httplib::Request& req, httplib::Response& res) {
                Send(api->ListTrials(req.matches[1].str(), req.params), res);
              });
  server->Get(study + "/trials\\.csv",
              [api](const httplib::Request& req, httplib::Response& res) {
                Send(api->TrialsCsv(req.matches[1].str(), req.params), res);
                res.set_header("Content-Disposition",
                               "attachment; filename=\"trials.csv\"");
              });
  server->Get(study + "/columns",
              [api](const httplib::Request& req, httplib::Response& res) {
                Send(api->TrialColumns(req.matches[1].str()), res);
              });
  server->Get(study + "/curves",
              [api](const httplib::Request& req, httplib::Response& res) {
                Send(api->Curves(req.matches[1].str(), req.params), res);
              });
  server->Post(study + ":stop",
               [api](const httplib::Request& req, httplib::Response& res) {
                 Send(api->StopStudy(req.matches[1].str(),
                                     req.get_header_value("Authorization"),
                                     req.get_header_value("X-Requested-By")),
                      res);
               });
  server->Get("/api/v1/trials/([^/:]+)",
              [api](const httplib::Request& req, httplib::Response& res) {
                Send(api->GetTrial(req.matches[1].str()), res);
              });
  server->Get("/api/v1/trials/([^/:]+)/log",
              [api](const httplib::Request& req, httplib::Response& res) {
                Send(api->TrialLog(req.matches[1].str(), req.params), res);
              });
  server->Post("/api/v1/trials/([^/:]+):stop",
               [api](const httplib::Request& req, httplib::Response& res) {
                 Send(api->StopTrial(req.matches[1].str(),
                                     req.get_header_value("Authorization"),
                                     req.get_header_value("X-Requested-By")),
                      res);
               });
  server->Get("/api/v1/events", [store, live](const httplib::Request& req,
                                              httplib::Response& res) {
    int64_t study_id = 0;
    if (req.has_param("study")) {
      absl::StatusOr<v1::Study> found =
          store->FindStudy(req.get_param_value("study"));
      if (!found.ok()) return Send(ErrorResponse(found.status()), res);
      study_id = found->id();
    }
    int64_t after = live->LastSequence();
    if (req.has_header("Last-Event-ID") &&
        !absl::SimpleAtoi(req.get_header_value("Last-Event-ID"), &after)) {
      after = live->LastSequence();
    }
    StreamEvents(live, study_id, after, res);
  });
  server->Get("/api/.*", [](const httplib::Request& req,
                            httplib::Response& res) {
    Send(ErrorResponse(absl::NotFoundError(
             absl::StrCat("no API endpoint at ", req.path))),
         res);
  });

  server->Post(".*", MethodNotAllowed);
  server->Put(".*", MethodNotAllowed);
  server->Patch(".*", MethodNotAllowed);
  server->Delete(".*", MethodNotAllowed);
  server->Options(".*", MethodNotAllowed);

  // The dashboard: its routes live after '#', so only "/" is a page.
  server->Get(".*", [](const httplib::Request& req, httplib::Response& res) {
    const Asset* asset = FindAsset(req.path == "/" ? "/index.html" : req.path);
    if (asset == nullptr) {
      res.status = 404;
      res.set_content("not found\n", "text/plain; charset=utf-8");
      return;
    }
    res.set_content(reinterpret_cast<const char*>(asset->data), asset->size,
                    asset->content_type);
    res.set_header("Cache-Control", "no-cache");
  });

  const int bound = port == 0 ? server->bind_to_any_port(host)
                              : (server->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.address));
  }
  const std::string address =
      absl::StrCat(host.find(':') != std::string::npos
                       ? absl::StrCat("[", host, "]")
                       : host,
                   ":", bound);
  std::unique_ptr<HttpServer> http(
      new HttpServer(std::move(server), live, bound, address));
  http->thread_ = std::thread([raw = http->server_.get()] {
    if (!raw->listen_after_bind()) spdlog::error("http: the server stopped");
  });
  // httplib's stop() does nothing before its loop runs: a Shutdown right
  // after Start would leave the thread listening forever.
  while (!http->server_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return http;
}

HttpServer::HttpServer(std::unique_ptr<httplib::Server> server,
                       LiveUpdates* live, int port, std::string address)
    : server_(std::move(server)),
      live_(live),
      port_(port),
      address_(std::move(address)) {}

HttpServer::~HttpServer() { Shutdown(); }

std::string HttpServer::url() const {
  return absl::StrCat("http://", address_, "/");
}

void HttpServer::Shutdown() {
  if (!thread_.joinable()) return;
  live_->Close();
  server_->stop();
  thread_.join();
}

}  // namespace vernier::web
