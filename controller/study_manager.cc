#include "controller/study_manager.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "controller/proto_time.h"
#include "controller/trial_registry.h"
#include "spdlog/spdlog.h"
#include "trial-runner/local/device_pool.h"

namespace vernier::controller {
namespace {

using trial_runner::ExecutorEvent;
using trial_runner::TrialLaunch;

// Routes executor events to the controller that launched the trial. One
// shared executor serves every study; each controller sees it through a
// RoutedExecutor that records which trials are its own.
class EventRouter {
 public:
  void Route(int64_t trial_id, StudyController* controller) {
    absl::MutexLock lock(&mutex_);
    routes_[trial_id] = controller;
  }

  // Thread-safe; called from the executor's threads.
  void Dispatch(ExecutorEvent event) {
    const int64_t trial_id =
        std::visit([](const auto& e) { return e.trial_id; }, event);
    const bool last = std::holds_alternative<trial_runner::WorkerExited>(event);
    StudyController* controller = nullptr;
    {
      absl::MutexLock lock(&mutex_);
      auto it = routes_.find(trial_id);
      if (it == routes_.end()) {
        spdlog::warn("executor event for trial {} that no study owns",
                     trial_id);
        return;
      }
      controller = it->second;
      if (last) routes_.erase(it);
    }
    controller->OnExecutorEvent(std::move(event));
  }

 private:
  absl::Mutex mutex_;
  std::map<int64_t, StudyController*> routes_ ABSL_GUARDED_BY(mutex_);
};

class RoutedExecutor final : public trial_runner::Executor {
 public:
  RoutedExecutor(trial_runner::Executor* shared, EventRouter* router)
      : shared_(shared), router_(router) {}

  void set_controller(StudyController* controller) { controller_ = controller; }

  void Launch(TrialLaunch launch) override {
    router_->Route(launch.trial_id, controller_);
    shared_->Launch(std::move(launch));
  }
  void Stop(int64_t trial_id) override { shared_->Stop(trial_id); }
  absl::Status Reclaim(const v1::Trial& trial) override {
    return shared_->Reclaim(trial);
  }
  std::map<int64_t, trial_runner::AdoptedWorker> Adopt(
      const std::vector<TrialLaunch>& running) override {
    // An adopted worker's events may come at once.
    for (const TrialLaunch& launch : running) {
      router_->Route(launch.trial_id, controller_);
    }
    return shared_->Adopt(running);
  }
  // The shared executor outlives every study; the manager shuts it down.
  void Shutdown() override {}

 private:
  trial_runner::Executor* const shared_;
  EventRouter* const router_;
  StudyController* controller_ = nullptr;
};

// One study being run: its controller and the thread its loop runs on.
struct RunningStudy {
  int64_t study_id = 0;
  // The study's own executor (kubernetes workers); null when it uses the
  // shared one.
  std::unique_ptr<trial_runner::Executor> own_executor;
  std::unique_ptr<RoutedExecutor> executor;
  std::unique_ptr<StudyController> controller;
  std::thread loop;
  bool ended = false;  // guarded by StudyManagerImpl::mutex_
  absl::StatusOr<v1::Study> result = absl::UnknownError("running");
};

class StudyManagerImpl final : public StudyManager {
 public:
  StudyManagerImpl(storage::Store* store, ExecutorFactory local_executor,
                   StudyManagerOptions options)
      : store_(store), options_(std::move(options)) {
    std::vector<std::string> gpus =
        options_.gpus.has_value()
            ? *options_.gpus
            : trial_runner::DiscoverGpus(options_.nvidia_smi,
                                         &gpu_discovery_error_);
    gpus_ = std::make_unique<trial_runner::DevicePool>(std::move(gpus));
    cpus_ = std::make_unique<trial_runner::DevicePool>(
        trial_runner::AvailableCpus());
    run_limits_ = std::make_unique<RunLimits>(options_.run_limits);
    executor_ = local_executor(
        [this](ExecutorEvent event) { router_.Dispatch(std::move(event)); });
    reviver_ = std::thread([this] { ReviveAfterStorageFaults(); });
  }

  ~StudyManagerImpl() override { Shutdown(); }

  void SetReportEndpoint(std::string endpoint) override {
    absl::MutexLock lock(&mutex_);
    options_.report_endpoint = std::move(endpoint);
  }

  absl::Status ResumeActiveStudies() override {
    absl::StatusOr<std::vector<v1::Study>> studies = store_->ListStudies();
    if (!studies.ok()) return studies.status();
    for (const v1::Study& study : *studies) {
      if (study.state() != v1::Study::ACTIVE) continue;
      spdlog::info("resuming study {}", study.name());
      if (absl::Status s = Start(study); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Study> StartStudy(const v1::StudySpec& spec,
                                       const std::string& yaml_text,
                                       bool resume_existing) override {
    if (absl::Status s = CheckDevices(spec); !s.ok()) return s;
    if (!resume_existing) {
      absl::StatusOr<v1::Study> existing = store_->FindStudy(spec.name());
      if (existing.ok()) {
        return absl::AlreadyExistsError(
            absl::StrCat("a study named '", spec.name(), "' exists already"));
      }
    }
    absl::StatusOr<v1::Study> study =
        CreateOrResumeStudy(store_, spec, yaml_text);
    if (!study.ok()) return study.status();
    if (study->state() == v1::Study::DONE ||
        study->state() == v1::Study::FAILED) {
      return study;
    }
    if (absl::Status s = Start(*study); !s.ok()) return s;
    return study;
  }

  absl::StatusOr<v1::Study> StopStudy(absl::string_view name) override {
    absl::StatusOr<v1::Study> study = store_->FindStudy(name);
    if (!study.ok()) return study.status();
    {
      absl::MutexLock lock(&mutex_);
      auto it = studies_.find(std::string(name));
      if (it == studies_.end() || it->second->ended) return study;
      it->second->controller->RequestStop();
    }
    return WaitForStudy(name);
  }

  void StopTrial(int64_t trial_id,
                 std::function<void(absl::Status)> done) override {
    absl::StatusOr<v1::Trial> trial = store_->GetTrial(trial_id);
    if (!trial.ok()) return done(trial.status());
    absl::StatusOr<v1::Study> study = store_->GetStudy(trial->study_id());
    if (!study.ok()) return done(study.status());
    absl::StatusOr<StudyController*> controller = Controller(study->name());
    if (!controller.ok()) return done(controller.status());
    (*controller)->StopTrial(trial_id, std::move(done));
  }

  absl::StatusOr<v1::Study> WaitForStudy(absl::string_view name) override {
    absl::MutexLock lock(&mutex_);
    auto it = studies_.find(std::string(name));
    if (it == studies_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no study named '", name, "' runs in this process"));
    }
    RunningStudy* running = it->second.get();
    mutex_.Await(absl::Condition(&running->ended));
    return running->result;
  }

  absl::StatusOr<WorkerTrial> GetTrialForWorker(
      int64_t trial_id, absl::string_view token) override {
    absl::StatusOr<TrialRegistry::Entry> entry = CheckWorker(trial_id, token);
    if (!entry.ok()) return entry.status();
    absl::StatusOr<v1::Trial> trial = store_->GetTrial(trial_id);
    if (!trial.ok()) return trial.status();
    absl::StatusOr<v1::Study> study = store_->GetStudy(trial->study_id());
    if (!study.ok()) return study.status();
    WorkerTrial answer{.trial = *std::move(trial)};
    answer.parameters.assign(study->spec().parameters().begin(),
                             study->spec().parameters().end());
    return answer;
  }

  void ReportMeasurements(
      int64_t trial_id, absl::string_view token,
      std::vector<v1::Measurement> measurements,
      std::function<void(absl::StatusOr<bool>)> done) override {
    absl::StatusOr<TrialRegistry::Entry> entry = CheckWorker(trial_id, token);
    if (!entry.ok()) return done(entry.status());
    const google::protobuf::Timestamp now = ToProto(options_.now());
    for (v1::Measurement& measurement : measurements) {
      if (!measurement.has_time()) *measurement.mutable_time() = now;
    }
    StudyController* controller = entry->controller;
    std::vector<v1::Measurement> to_store = measurements;
    store_->AddMeasurementsAsync(
        trial_id, std::move(to_store),
        [this, trial_id, token = std::string(token), controller,
         measurements = std::move(measurements),
         done = std::move(done)](absl::Status status) mutable {
          if (!status.ok()) return done(status);
          controller->OnMeasurementsReported(trial_id, std::move(measurements));
          // Asked again now: a stop decided while the write committed counts.
          absl::StatusOr<TrialRegistry::Entry> now =
              registry_.Check(trial_id, token);
          done(now.ok() ? now->should_stop : true);
        });
  }

  void FinishTrial(int64_t trial_id, absl::string_view token,
                   std::map<std::string, double> metrics,
                   std::function<void(absl::Status)> done) override {
    absl::StatusOr<TrialRegistry::Entry> entry = CheckWorker(trial_id, token);
    if (!entry.ok()) return done(entry.status());
    entry->controller->FinishTrial(trial_id, std::move(metrics),
                                   std::move(done));
  }

  void SuggestTrials(absl::string_view study, int count,
                     const std::string& client_id,
                     std::function<void(absl::StatusOr<std::vector<v1::Trial>>)>
                         done) override {
    absl::StatusOr<StudyController*> controller = Controller(study);
    if (!controller.ok()) return done(controller.status());
    (*controller)->SuggestTrials(count, client_id, std::move(done));
  }

  void CompleteTrial(
      absl::string_view study, int64_t trial_id,
      std::map<std::string, double> metrics, bool infeasible,
      const std::string& infeasible_reason,
      std::function<void(absl::StatusOr<v1::Trial>)> done) override {
    absl::StatusOr<StudyController*> controller = Controller(study);
    if (!controller.ok()) return done(controller.status());
    (*controller)
        ->CompleteTrial(trial_id, std::move(metrics), infeasible,
                        infeasible_reason, std::move(done));
  }

  void Shutdown() override {
    std::vector<std::unique_ptr<RunningStudy>> studies;
    {
      absl::MutexLock lock(&mutex_);
      if (shut_down_) return;
      shut_down_ = true;
      for (auto& [name, running] : studies_) {
        if (!running->ended) running->controller->Shutdown();
      }
    }
    // It starts no study once shut_down_ is set (Start checks it).
    if (reviver_.joinable()) reviver_.join();
    // Join outside the lock: a loop thread takes it when it ends.
    for (auto& [name, running] : studies_) {
      if (running->loop.joinable()) running->loop.join();
    }
    if (executor_ != nullptr) executor_->Shutdown();
  }

 private:
  // INVALID_ARGUMENT when this machine cannot give a trial of `spec` the
  // GPUs or cores it asks for.
  absl::Status CheckDevices(const v1::StudySpec& spec) const {
    const v1::WorkerSpec& worker = spec.worker();
    if (worker.gpus_per_trial() > 0 && worker.gpus().empty()) {
      const int have = static_cast<int>(gpus_->devices().size());
      if (have == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "worker.gpus_per_trial: this machine has no GPU to give (",
            gpu_discovery_error_.empty() ? "none configured"
                                         : gpu_discovery_error_,
            "); list the GPUs in worker.gpus, or set gpus_per_trial: 0"));
      }
      if (worker.gpus_per_trial() > have) {
        return absl::InvalidArgumentError(
            absl::StrCat("worker.gpus_per_trial: each trial needs ",
                         worker.gpus_per_trial(), " GPUs but this machine has ",
                         have));
      }
    }
    const int cores = static_cast<int>(cpus_->devices().size());
    if (worker.cpus_per_trial() > cores) {
      return absl::InvalidArgumentError(
          absl::StrCat("worker.cpus_per_trial: each trial needs ",
                       worker.cpus_per_trial(), " cores but this process may "
                       "use ", cores));
    }
    return absl::OkStatus();
  }

  absl::Status Start(const v1::Study& study) {
    auto running = std::make_unique<RunningStudy>();
    running->study_id = study.id();
    if (study.spec().worker().kind() == v1::WorkerSpec::KUBERNETES) {
      if (!options_.study_executor) {
        return absl::UnimplementedError(
            "this server cannot run kubernetes workers");
      }
      absl::StatusOr<std::unique_ptr<trial_runner::Executor>> own =
          options_.study_executor(study, [this](ExecutorEvent event) {
            router_.Dispatch(std::move(event));
          });
      if (!own.ok()) return own.status();
      running->own_executor = *std::move(own);
    }
    running->executor = std::make_unique<RoutedExecutor>(
        running->own_executor ? running->own_executor.get() : executor_.get(),
        &router_);
    StudyControllerOptions options;
    {
      absl::MutexLock lock(&mutex_);
      if (shut_down_)
        return absl::UnavailableError("the server is shutting down");
      if (auto it = studies_.find(study.name());
          it != studies_.end() && !it->second->ended) {
        return absl::OkStatus();  // already running
      }
      options.report_endpoint = options_.report_endpoint;
    }
    options.log_dir = options_.log_dir;
    options.python_client_path = options_.python_client_path;
    options.report_tls_ca = options_.report_tls_ca;
    options.registry = &registry_;
    options.gpus = gpus_.get();
    options.cpus = cpus_.get();
    options.run_limits = run_limits_.get();
    options.now = options_.now;
    options.on_progress = options_.on_progress;
    options.on_suggestion = options_.on_suggestion;
    options.on_model_fit = options_.on_model_fit;
    if (options_.on_trial_finished) {
      options.on_trial_finished = [this, study](const v1::Trial& trial) {
        options_.on_trial_finished(study, trial);
      };
    }
    const bool ask_tell = study.spec().worker().kind() == v1::WorkerSpec::NONE;
    absl::StatusOr<std::unique_ptr<StudyController>> controller =
        StudyController::Create(store_,
                                ask_tell ? nullptr : running->executor.get(),
                                study.id(), std::move(options));
    if (!controller.ok()) return controller.status();
    running->controller = *std::move(controller);
    running->executor->set_controller(running->controller.get());

    RunningStudy* raw = running.get();
    absl::MutexLock lock(&mutex_);
    if (shut_down_)
      return absl::UnavailableError("the server is shutting down");
    if (auto it = studies_.find(study.name()); it != studies_.end()) {
      if (it->second->loop.joinable()) it->second->loop.join();
    }
    studies_[study.name()] = std::move(running);
    raw->loop = std::thread([this, raw, name = study.name()] {
      absl::StatusOr<v1::Study> result = raw->controller->Run();
      if (raw->own_executor != nullptr) raw->own_executor->Shutdown();
      if (!result.ok()) {
        spdlog::error("study {} stopped by an error: {}", name,
                      result.status().ToString());
      }
      absl::MutexLock lock(&mutex_);
      raw->result = std::move(result);
      raw->ended = true;
    });
    return absl::OkStatus();
  }

  // Runs until Shutdown: restarts, from what the store holds, each study
  // whose loop ended on a storage fault (UNAVAILABLE: a full disk, a
  // read-only database), as a restarted server would resume it. Its workers
  // were stopped when the loop ended; its trials run again. While the fault
  // lasts, each restart fails in turn, at intervals doubling from 1 s to 30 s.
  void ReviveAfterStorageFaults() {
    constexpr absl::Duration kFirstDelay = absl::Seconds(1);
    constexpr absl::Duration kLongestDelay = absl::Seconds(30);
    absl::Duration delay = kFirstDelay;
    absl::MutexLock lock(&mutex_);
    while (!mutex_.AwaitWithTimeout(absl::Condition(&shut_down_), delay)) {
      std::vector<std::string> faulted;
      for (const auto& [name, running] : studies_) {
        if (running->ended && absl::IsUnavailable(running->result.status())) {
          faulted.push_back(name);
        }
      }
      delay =
          faulted.empty() ? kFirstDelay : std::min(2 * delay, kLongestDelay);
      mutex_.Unlock();
      for (const std::string& name : faulted) {
        absl::StatusOr<v1::Study> study = store_->FindStudy(name);
        if (study.ok() && study->state() == v1::Study::ACTIVE) {
          spdlog::info("study {}: resuming after a storage fault", name);
          if (absl::Status s = Start(*study); !s.ok()) {
            spdlog::warn("study {}: cannot resume yet: {}", name, s.ToString());
          }
        } else if (study.ok()) {
          // It ended after all (stopped, say): nothing to resume.
          absl::MutexLock relock(&mutex_);
          if (auto it = studies_.find(name); it != studies_.end()) {
            it->second->result = *study;
          }
        }
      }
      mutex_.Lock();
    }
  }

  // The registry entry of a running worker trial, or why it cannot report.
  absl::StatusOr<TrialRegistry::Entry> CheckWorker(int64_t trial_id,
                                                   absl::string_view token) {
    if (token.empty())
      return absl::PermissionDeniedError("missing trial token");
    absl::StatusOr<TrialRegistry::Entry> entry =
        registry_.Check(trial_id, token);
    if (!absl::IsNotFound(entry.status())) return entry;
    // Not running here: say whether it exists at all.
    absl::StatusOr<v1::Trial> trial = store_->GetTrial(trial_id);
    if (!trial.ok()) return trial.status();
    if (trial->state() == v1::Trial::RUNNING) {
      absl::StatusOr<v1::Study> study = store_->GetStudy(trial->study_id());
      if (!study.ok()) return study.status();
      if (study->spec().worker().kind() == v1::WorkerSpec::NONE) {
        return absl::FailedPreconditionError(absl::StrCat(
            "trial ", trial_id, " of ask/tell study ", study->name(),
            " is not running under a worker: its client gives the result "
            "with CompleteTrial"));
      }
      // Recorded as running but not followed yet: its study is being
      // resumed (a restarted server adopting its workers). Clients retry.
      return absl::UnavailableError(absl::StrCat(
          "trial ", trial_id,
          " runs, but this server does not follow it yet (its study is "
          "starting); try again"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " is not running (",
                     v1::Trial::State_Name(trial->state()), ")"));
  }

  absl::StatusOr<StudyController*> Controller(absl::string_view name) {
    absl::MutexLock lock(&mutex_);
    auto it = studies_.find(std::string(name));
    if (it != studies_.end() && !it->second->ended) {
      return it->second->controller.get();
    }
    absl::StatusOr<v1::Study> study = store_->FindStudy(name);
    if (!study.ok()) return study.status();
    return absl::FailedPreconditionError(
        absl::StrCat("study ", name, " is not running (",
                     v1::Study::State_Name(study->state()), ")"));
  }

  storage::Store* const store_;
  TrialRegistry registry_;
  EventRouter router_;
  // Shared by every study's trials; outlive the controllers below.
  std::unique_ptr<trial_runner::DevicePool> gpus_;
  std::unique_ptr<trial_runner::DevicePool> cpus_;
  std::unique_ptr<RunLimits> run_limits_;
  std::string gpu_discovery_error_;  // why no GPU was found, if none was
  std::unique_ptr<trial_runner::Executor> executor_;

  absl::Mutex mutex_;
  StudyManagerOptions options_;  // report_endpoint guarded by mutex_
  std::map<std::string, std::unique_ptr<RunningStudy>> studies_
      ABSL_GUARDED_BY(mutex_);
  bool shut_down_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread reviver_;  // ReviveAfterStorageFaults
};

}  // namespace

std::unique_ptr<StudyManager> StudyManager::Create(
    storage::Store* store, ExecutorFactory local_executor,
    StudyManagerOptions options) {
  return std::make_unique<StudyManagerImpl>(store, std::move(local_executor),
                                            std::move(options));
}

}  // namespace vernier::controller
