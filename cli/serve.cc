// `vernier serve`: a long-lived server with many studies.
#include <filesystem>
#include <iostream>

#include "absl/synchronization/notification.h"
#include "cli/commands.h"
#include "cli/serving.h"
#include "spdlog/spdlog.h"
#include "storage/sqlite_store.h"

namespace vernier::cli {

int Serve(const ServeArgs& args) {
  SignalWatcher signals;
  server::GrpcServerOptions grpc{.address = args.grpc_address,
                                 .tls_cert_file = args.tls_cert_file,
                                 .tls_key_file = args.tls_key_file};
  if (!args.admin_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(args.admin_token_file);
    if (!token.ok()) {
      std::cerr << "--admin-token-file: " << token.status().message() << "\n";
      return kExitBadInput;
    }
    grpc.admin_token = *std::move(token);
  }
  controller::RunLimitsSpec run_limits;
  if (args.max_running_trials > 0) {
    run_limits.max_running = args.max_running_trials;
  }
  for (const std::string& cap : args.max_running_per) {
    if (absl::Status added = controller::AddLabelCap(cap, run_limits);
        !added.ok()) {
      std::cerr << "--max-running-per: " << added.message() << "\n";
      return kExitBadInput;
    }
  }
  web::HttpServerOptions http{.address = args.http_address,
                              .admin_token = grpc.admin_token};
  Observability observability;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      OpenDatabase(args.db_path, &observability.metrics);
  if (!store.ok()) {
    std::cerr << "cannot open the database: " << store.status().message()
              << "\n";
    return kExitError;
  }
  absl::StatusOr<Serving> serving = StartServing(
      store->get(), args.db_path, grpc, http, args.kubernetes,
      controller::StudyManagerOptions{
          .on_trial_finished = [](const v1::Study& study,
                                  const v1::Trial& trial) {
            spdlog::info("study {}: trial {} {}", study.name(), trial.number(),
                         v1::Trial::State_Name(trial.state()));
          },
          .run_limits = std::move(run_limits)},
      &observability);
  if (!serving.ok()) {
    std::cerr << serving.status().message() << "\n";
    return kExitError;
  }
  if (absl::Status resumed = serving->manager->ResumeActiveStudies();
      !resumed.ok()) {
    std::cerr << "cannot resume the studies: " << resumed.message() << "\n";
    serving->Shutdown();
    return kExitError;
  }
  std::cout << "vernier serving gRPC on " << serving->server->address()
            << (serving->server->tls() ? " (TLS)" : "") << ", dashboard on "
            << serving->http->url() << ", database "
            << std::filesystem::absolute(args.db_path).string() << std::endl;

  absl::Notification stop;
  signals.Start([&stop](int count) {
    if (count > 1) _exit(130);
    if (!stop.HasBeenNotified()) stop.Notify();
  });
  stop.WaitForNotification();
  std::cout << "shutting down: running trials stop and resume with the server"
            << std::endl;
  signals.Stop();
  serving->Shutdown();
  return kExitOk;
}

}  // namespace vernier::cli
