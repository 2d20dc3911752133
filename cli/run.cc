// `vernier run` and `vernier validate`.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/format.h"
#include "controller/study_controller.h"
#include "controller/study_yaml.h"
#include "storage/sqlite_store.h"
#include "trial-runner/local/local_executor.h"

namespace vernier::cli {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

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
    if (interactive_ && status_shown_) std::printf("\r\033[K");
    std::printf("%s\n", line.c_str());
    status_shown_ = false;
    std::fflush(stdout);
  }

 private:
  const bool interactive_;
  bool status_shown_ = false;
  int last_finished_ = -1;
};

// Turns SIGINT/SIGTERM into a clean stop of the study; a second one quits at
// once (the workers die with their parent through PR_SET_PDEATHSIG).
// The signals must be blocked in every thread, so construct it before any
// other thread starts.
class StopOnSignal {
 public:
  StopOnSignal() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  }

  void Start(controller::StudyController* controller,
             ProgressPrinter* printer) {
    thread_ = std::thread([this, controller, printer] {
      int received = 0;
      const timespec poll = {0, 200'000'000};
      while (!done_) {
        if (sigtimedwait(&signals_, nullptr, &poll) < 0) continue;
        if (++received > 1) _exit(130);
        printer->Print(
            "stopping: running trials are stopped and will run "
            "again on resume (press Ctrl-C again to quit at once)");
        controller->RequestStop();
      }
    });
  }

  ~StopOnSignal() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  sigset_t signals_;
  std::atomic<bool> done_ = false;
  std::thread thread_;
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

int Run(const RunArgs& args) {
  StopOnSignal stop_on_signal;
  std::string yaml_text;
  std::optional<controller::LoadedStudy> loaded =
      LoadStudyFile(args.yaml_path, &yaml_text);
  if (!loaded.has_value()) return kExitBadInput;

  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenSqliteStore(args.db_path);
  if (!store.ok()) {
    std::cerr << "cannot open the database: " << store.status().message()
              << "\n";
    return kExitError;
  }
  absl::StatusOr<v1::Study> study =
      controller::CreateOrResumeStudy(store->get(), loaded->spec, yaml_text);
  if (!study.ok()) {
    std::cerr << study.status().message() << "\n";
    return absl::IsFailedPrecondition(study.status()) ? kExitBadInput
                                                      : kExitError;
  }

  ProgressPrinter printer;
  absl::StatusOr<std::vector<v1::Trial>> existing =
      (*store)->ListTrials(study->id());
  if (study->state() == v1::Study::DONE ||
      study->state() == v1::Study::FAILED) {
    printer.Print("study " + study->name() + " has already ended:");
    std::cout << StudyReport(
        *study,
        controller::Summarize(study->spec().objective(),
                              existing.value_or(std::vector<v1::Trial>{})));
    return ExitStatusOf(*study);
  }
  if (existing.ok() && !existing->empty()) {
    printer.Print("resuming study " + study->name() + " (" +
                  std::to_string(existing->size()) + " trials so far)");
  } else {
    printer.Print("running study " + study->name() + " (database " +
                  fs::absolute(args.db_path).string() + ")");
  }

  controller::StudyController* controller_ptr = nullptr;
  std::unique_ptr<trial_runner::Executor> executor =
      trial_runner::NewLocalExecutor(
          [&controller_ptr](trial_runner::ExecutorEvent event) {
            controller_ptr->OnExecutorEvent(std::move(event));
          });
  const v1::StudySpec spec = study->spec();
  controller::StudyControllerOptions options{
      .log_dir =
          (fs::absolute(args.db_path).parent_path() / "vernier-logs").string(),
      .on_progress =
          [&printer](const controller::StudyProgress& progress) {
            printer.OnProgress(progress);
          },
      .on_trial_finished =
          [&printer, &spec](const v1::Trial& trial) {
            printer.OnTrialFinished(spec, trial);
          },
  };
  absl::StatusOr<std::unique_ptr<controller::StudyController>> controller =
      controller::StudyController::Create(store->get(), executor.get(),
                                          study->id(), std::move(options));
  if (!controller.ok()) {
    std::cerr << controller.status().message() << "\n";
    return kExitError;
  }
  controller_ptr = controller->get();
  stop_on_signal.Start(controller_ptr, &printer);

  absl::StatusOr<v1::Study> result = (*controller)->Run();
  executor->Shutdown();
  if (!result.ok()) {
    printer.Print("study " + study->name() + " stopped by an error: " +
                  std::string(result.status().message()));
    return kExitError;
  }
  absl::StatusOr<std::vector<v1::Trial>> trials =
      (*store)->ListTrials(study->id());
  printer.Print("");
  std::cout << StudyReport(
      *result,
      controller::Summarize(result->spec().objective(),
                            trials.value_or(std::vector<v1::Trial>{})));
  return ExitStatusOf(*result);
}

}  // namespace vernier::cli
