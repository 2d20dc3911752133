// `vernier run` and `vernier validate`.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/files.h"
#include "cli/format.h"
#include "cli/serving.h"
#include "controller/kubernetes_render.h"
#include "controller/study_controller.h"
#include "controller/study_manager.h"
#include "controller/study_yaml.h"
#include "storage/sqlite_store.h"

namespace vernier::cli {
namespace {

namespace fs = std::filesystem;

// Loads and validates a study file, printing every problem. nullopt when the
// study cannot run.
std::optional<controller::LoadedStudy> LoadStudyFile(const std::string& path,
                                                     std::string* text) {
  std::optional<std::string> content = ReadFile(path);
  if (!content.has_value()) {
    std::cerr << path << ": cannot read the file\n";
    return std::nullopt;
  }
  const std::string base_dir = fs::absolute(path).parent_path().string();
  controller::LoadedStudy loaded =
      controller::LoadStudyYaml(*content, base_dir);
  if (!loaded.errors.empty()) {
    for (const controller::SpecError& error : loaded.errors) {
      std::cerr << path << ":" << error.ToString() << "\n";
    }
    std::cerr << path << ": " << loaded.errors.size()
              << (loaded.errors.size() == 1 ? " problem" : " problems") << "\n";
    return std::nullopt;
  }
  *text = *std::move(content);
  return loaded;
}

// Live progress on the terminal: a line per finished trial, and on a terminal
// a status line redrawn in place.
class ProgressPrinter {
 public:
  ProgressPrinter() : interactive_(isatty(STDOUT_FILENO) == 1) {}

  void OnProgress(const controller::StudyProgress& progress) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string line = ProgressLine(progress);
    if (interactive_) {
      std::printf("\r\033[K%s", line.c_str());
      status_shown_ = true;
    } else if (progress.summary.finished() != last_finished_) {
      std::printf("%s\n", line.c_str());
    }
    last_finished_ = progress.summary.finished();
    std::fflush(stdout);
  }

  void OnTrialFinished(const v1::StudySpec& spec, const v1::Trial& trial) {
    Print(TrialFinishedLine(spec, trial));
  }

  // Prints a whole line above the status line.
  void Print(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (interactive_ && status_shown_) std::printf("\r\033[K");
    std::printf("%s\n", line.c_str());
    status_shown_ = false;
    std::fflush(stdout);
  }

 private:
  const bool interactive_;
  std::mutex mutex_;  // the loop thread and the signal thread both print
  bool status_shown_ = false;
  int last_finished_ = -1;
};

int ExitStatusOf(const v1::Study& study) {
  return study.state() == v1::Study::FAILED ? kExitStudyFailed : kExitOk;
}

}  // namespace

int Validate(const std::string& yaml_path) {
  std::string text;
  std::optional<controller::LoadedStudy> loaded =
      LoadStudyFile(yaml_path, &text);
  if (!loaded.has_value()) return kExitBadInput;
  std::cout << yaml_path << ": valid study '" << loaded->spec.name() << "' ("
            << loaded->spec.parameters_size() << " parameters, algorithm "
            << loaded->spec.algorithm().name() << ", "
            << loaded->spec.trials().max() << " trials)\n";
  return kExitOk;
}

int RenderKubernetes(const std::string& yaml_path, int count) {
  std::string text;
  std::optional<controller::LoadedStudy> loaded =
      LoadStudyFile(yaml_path, &text);
  if (!loaded.has_value()) return kExitBadInput;
  absl::StatusOr<nlohmann::json> manifests = controller::RenderKubernetesJobs(
      loaded->spec, count, "vernier-render");
  if (!manifests.ok()) {
    std::cerr << yaml_path << ": " << manifests.status().message() << "\n";
    return kExitBadInput;
  }
  std::cout << manifests->dump(2) << "\n";
  return kExitOk;
}

int Run(const RunArgs& args) {
  SignalWatcher signals;
  std::string yaml_text;
  std::optional<controller::LoadedStudy> loaded =
      LoadStudyFile(args.yaml_path, &yaml_text);
  if (!loaded.has_value()) return kExitBadInput;

  Observability observability;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      OpenDatabase(args.db_path, &observability.metrics);
  if (!store.ok()) {
    std::cerr << "cannot open the database: " << store.status().message()
              << "\n";
    return kExitError;
  }
  absl::StatusOr<v1::Study> existing = (*store)->FindStudy(loaded->spec.name());
  ProgressPrinter printer;
  if (existing.ok()) {
    if (absl::Status same = controller::CheckSameSpec(*existing, loaded->spec);
        !same.ok()) {
      std::cerr << same.message() << "\n";
      return kExitBadInput;
    }
    absl::StatusOr<std::vector<v1::Trial>> trials =
        (*store)->ListTrials(existing->id());
    const bool ended = existing->state() == v1::Study::DONE ||
                       existing->state() == v1::Study::FAILED;
    if (ended && trials.ok()) {
      printer.Print("study " + existing->name() + " has already ended:");
      std::cout << StudyReport(
          *existing,
          controller::Summarize(existing->spec().objective(), *trials));
      return ExitStatusOf(*existing);
    }
    printer.Print("resuming study " + existing->name() + " (" +
                  std::to_string(trials.ok() ? trials->size() : 0) +
                  " trials so far)");
  }

  const v1::StudySpec spec = loaded->spec;
  controller::StudyManagerOptions options{
      .on_progress =
          [&printer](const controller::StudyProgress& progress) {
            printer.OnProgress(progress);
          },
      .on_trial_finished =
          [&printer, &spec](const v1::Study&, const v1::Trial& trial) {
            printer.OnTrialFinished(spec, trial);
          },
  };
  // The trials' own endpoint: loopback, any free port.
  server::GrpcServerOptions grpc{.address = "127.0.0.1:0"};
  absl::StatusOr<Serving> serving =
      StartServing(store->get(), args.db_path, grpc,
                   web::HttpServerOptions{.address = args.http_address},
                   args.kubernetes, std::move(options), &observability);
  if (!serving.ok()) {
    std::cerr << serving.status().message() << "\n";
    return kExitError;
  }
  absl::StatusOr<v1::Study> study =
      serving->manager->StartStudy(spec, yaml_text, /*resume_existing=*/true);
  if (!study.ok()) {
    serving->Shutdown();
    std::cerr << study.status().message() << "\n";
    // A changed spec, or one this machine cannot run (no GPU): bad input.
    return absl::IsFailedPrecondition(study.status()) ||
                   absl::IsInvalidArgument(study.status())
               ? kExitBadInput
               : kExitError;
  }
  if (!existing.ok()) {
    printer.Print("running study " + study->name() + " (database " +
                  fs::absolute(args.db_path).string() + ", trials report to " +
                  serving->server->address() + ")");
  }
  printer.Print("dashboard: " + serving->http->url());
  signals.Start([&](int count) {
    // A second signal quits at once; workers die with us (PR_SET_PDEATHSIG).
    if (count > 1) _exit(130);
    printer.Print(
        "stopping: running trials are stopped and will run again on "
        "resume (press Ctrl-C again to quit at once)");
    (void)serving->manager->StopStudy(spec.name());
  });

  absl::StatusOr<v1::Study> result =
      serving->manager->WaitForStudy(spec.name());
  signals.Stop();
  serving->Shutdown();
  if (!result.ok()) {
    printer.Print("study " + spec.name() + " stopped by an error: " +
                  std::string(result.status().message()));
    return kExitError;
  }
  absl::StatusOr<std::vector<v1::Trial>> trials =
      (*store)->ListTrials(result->id());
  printer.Print("");
  std::cout << StudyReport(
      *result,
      controller::Summarize(result->spec().objective(),
                            trials.value_or(std::vector<v1::Trial>{})));
  return ExitStatusOf(*result);
}

}  // namespace vernier::cli
