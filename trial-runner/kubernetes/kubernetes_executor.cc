#include "trial-runner/kubernetes/kubernetes_executor.h"

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"
#include "trial-runner/kubernetes/job_builder.h"
#include "trial-runner/kubernetes/job_status.h"

namespace vernier::kubernetes {
namespace {

using trial_runner::ExecutorEventSink;
using trial_runner::TrialLaunch;
using trial_runner::WorkerExited;
using trial_runner::WorkerRunning;
using trial_runner::WorkerStarted;
using trial_runner::WorkerWaiting;

// The last `lines` lines of `text`.
std::string Tail(const std::string& text, int lines) {
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  size_t start = end;
  for (int n = 0; n < lines && start > 0; ++n) {
    const size_t newline = text.rfind('\n', start - 1);
    start = newline == std::string::npos ? 0 : newline + 1;
    if (newline == std::string::npos) break;
  }
  return text.substr(start, end - start);
}

// Threads: Launch, Stop, Reclaim and Shutdown run on callers' threads. Each
// launched trial has a creation thread (slot, Job, Secret). Two watch threads
// follow the study's Jobs and pods; a housekeeping thread deletes the Jobs of
// stopped trials and fails trials that waited too long. Whoever ends a trial
// (watch or housekeeping) posts its WorkerExited, once, outside mu_.
class KubernetesExecutor final : public trial_runner::Executor {
 public:
  KubernetesExecutor(const v1::KubernetesWorkerSpec& spec,
                     std::shared_ptr<KubeClient> client, ExecutorEventSink sink,
                     KubernetesExecutorOptions options)
      : spec_(spec),
        client_(std::move(client)),
        sink_(std::move(sink)),
        options_(std::move(options)),
        jobs_path_(absl::StrCat("/apis/batch/v1/namespaces/", spec.namespace_(),
                                "/jobs")),
        pods_path_(
            absl::StrCat("/api/v1/namespaces/", spec.namespace_(), "/pods")),
        selector_(UrlEncode(absl::StrCat(kOwnerLabel, "=", options_.owner, ",",
                                         kStudyLabel, "=",
                                         OwnerLabelValue(options_.study)))) {
    if (spec_.has_pending_timeout()) {
      options_.pending_timeout =
          absl::Seconds(spec_.pending_timeout().seconds());
    }
    threads_.emplace_back([this] { WatchLoop(jobs_path_, true); });
    threads_.emplace_back([this] { WatchLoop(pods_path_, false); });
    threads_.emplace_back([this] { Housekeeping(); });
  }
  ~KubernetesExecutor() override { Shutdown(); }

  void Launch(TrialLaunch launch) override {
    const int64_t trial_id = launch.trial_id;
    absl::Status refused;
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) {
        refused = absl::FailedPreconditionError(
            "the kubernetes executor is shut down");
      } else if (runs_.contains(trial_id)) {
        refused = absl::AlreadyExistsError(
            absl::StrCat("trial ", trial_id, " is already running"));
      } else {
        Run& run = runs_[trial_id];
        run.launch = std::move(launch);
        run.job_name = JobName(options_.study, trial_id);
      }
    }
    if (!refused.ok()) {
      WorkerExited exited;
      exited.trial_id = trial_id;
      exited.launch_error = std::move(refused);
      sink_(std::move(exited));
      return;
    }
    sink_(WorkerStarted{.trial_id = trial_id,
                        .kubernetes_job = JobName(options_.study, trial_id)});
    absl::MutexLock lock(&mu_);
    threads_.emplace_back([this, trial_id] { Create(trial_id); });
  }

  void Stop(int64_t trial_id) override {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(trial_id);
    if (it != runs_.end()) it->second.stop_requested = true;
  }

  absl::Status Reclaim(const v1::Trial& trial) override {
    return DeleteJob(JobName(options_.study, trial.id()));
  }

  std::map<int64_t, trial_runner::AdoptedWorker> Adopt(
      const std::vector<TrialLaunch>& running) override {
    std::map<int64_t, trial_runner::AdoptedWorker> adopted;
    absl::StatusOr<nlohmann::json> list = client_->Call(
        "GET", absl::StrCat(jobs_path_, "?labelSelector=", selector_));
    if (!list.ok()) {
      // Nothing can be followed; the trials run again (their Jobs are
      // deleted by Reclaim, which names what fails).
      spdlog::warn("study {}: cannot list its Jobs: {}", options_.study,
                   list.status().ToString());
      return adopted;
    }
    std::map<int64_t, const TrialLaunch*> by_trial;
    for (const TrialLaunch& launch : running) {
      by_trial[launch.trial_id] = &launch;
    }
    const nlohmann::json& items = JsonAt(*list, {"items"});
    for (const nlohmann::json& job :
         items.is_array() ? items : nlohmann::json::array()) {
      const std::string name = StringAt(job, {"metadata", "name"});
      if (name.empty()) continue;
      const auto it = by_trial.find(TrialIdOf(job));
      std::optional<std::string> token;
      if (it != by_trial.end() && ReadJobState(job).phase == JobPhase::kActive &&
          name == JobName(options_.study, it->first)) {
        token = TokenOf(job);
      }
      if (!token.has_value()) {
        spdlog::info("study {}: deleting Job {} left by an earlier run",
                     options_.study, name);
        if (absl::Status s = DeleteJob(name); !s.ok()) {
          spdlog::warn("study {}: cannot delete Job {}: {}", options_.study,
                       name, s.ToString());
        }
        continue;
      }
      spdlog::info("study {}: adopting Job {} of an earlier run",
                   options_.study, name);
      const int64_t trial_id = it->first;
      {
        absl::MutexLock lock(&mu_);
        Run& run = runs_[trial_id];
        run.launch = *it->second;
        run.launch.env["VERNIER_TOKEN"] = *token;
        run.job_name = name;
        run.created = true;
      }
      if (options_.slots != nullptr) {
        options_.slots->AcquireRunning();
        absl::MutexLock lock(&mu_);
        runs_.at(trial_id).slot_held = true;
      }
      adopted[trial_id] = trial_runner::AdoptedWorker{*std::move(token)};
    }
    // The watches may have seen these Jobs and pods before they were runs:
    // read them again now that they are.
    for (const auto& [trial_id, worker] : adopted) {
      RefreshPods(trial_id);
      absl::StatusOr<nlohmann::json> job = client_->Call(
          "GET",
          absl::StrCat(jobs_path_, "/", JobName(options_.study, trial_id)));
      if (job.ok()) {
        OnJob("MODIFIED", *job);
      } else if (absl::IsNotFound(job.status())) {
        OnJob("DELETED", {{"metadata",
                           {{"labels", {{kTrialLabel, absl::StrCat(trial_id)}}}}}});
      }
    }
    return adopted;
  }

  void Shutdown() override {
    absl::MutexLock shutdown_lock(&shutdown_mu_);
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_ && threads_.empty()) return;
      shut_down_ = true;
      for (auto& [id, run] : runs_) run.stop_requested = true;
      // Housekeeping deletes the Jobs and posts the exits.
      auto all_exited = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return runs_.empty();
      };
      mu_.Await(absl::Condition(&all_exited));
      closing_ = true;
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
  }

 private:
  struct Run {
    TrialLaunch launch;
    std::string job_name;
    std::string pod_name;
    bool created = false;  // the Job exists
    bool stop_requested = false;
    std::optional<int> exit_code;  // of its pod's container, once known
    std::string waiting_reason;
    absl::Time waiting_since = absl::InfinitePast();
    bool slot_held = false;
    // When its pod began to run, once seen; whether WorkerRunning told so.
    std::optional<absl::Time> ran_since;
    bool running_posted = false;
    // When its pod's container ended, once seen.
    std::optional<absl::Time> finished_at;
  };

  bool Closing() {
    absl::MutexLock lock(&mu_);
    return closing_;
  }
  bool StopRequested(int64_t trial_id) {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(trial_id);
    return it == runs_.end() || it->second.stop_requested;
  }

  void PostWaiting(int64_t trial_id, const std::string& reason) {
    {
      absl::MutexLock lock(&mu_);
      auto it = runs_.find(trial_id);
      if (it == runs_.end() || it->second.waiting_reason == reason) return;
      if (it->second.waiting_reason.empty()) {
        it->second.waiting_since = options_.clock();
      }
      it->second.waiting_reason = reason;
    }
    sink_(WorkerWaiting{trial_id, reason});
  }

  // The creation thread of one trial.
  void Create(int64_t trial_id) {
    TrialLaunch launch;
    {
      absl::MutexLock lock(&mu_);
      launch = runs_.at(trial_id).launch;
    }
    const auto stop = [&] { return StopRequested(trial_id); };
    if (options_.slots != nullptr) {
      PostWaiting(trial_id,
                  absl::StrCat("all ", options_.slots->capacity(),
                               " Job slots of this server are taken"));
      if (!options_.slots->Acquire(stop)) return;  // housekeeping ends it
      absl::MutexLock lock(&mu_);
      runs_.at(trial_id).slot_held = true;
    }
    TrialJob trial =
        TrialJobFromLaunch(launch, options_.owner, spec_.report_endpoint());
    trial.study = options_.study;
    absl::StatusOr<nlohmann::json> job = BuildJob(spec_, trial);
    if (!job.ok()) return Fail(trial_id, job.status());
    absl::StatusOr<nlohmann::json> created;
    while (!stop()) {
      created = client_->Call("POST", jobs_path_, &*job);
      if (absl::IsAlreadyExists(created.status())) {
        // An earlier attempt went through after all.
        created = client_->Call(
            "GET",
            absl::StrCat(jobs_path_, "/", JobName(options_.study, trial_id)));
      }
      if (!absl::IsPermissionDenied(created.status()) ||
          !absl::StrContains(created.status().message(), "exceeded quota")) {
        break;
      }
      PostWaiting(trial_id, std::string(created.status().message()));
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&closing_), options_.quota_retry);
    }
    if (stop()) {
      // Ended while the Job was being made: it must not stay.
      if (created.ok()) (void)DeleteJob(JobName(options_.study, trial_id));
      return;
    }
    if (!created.ok()) return Fail(trial_id, created.status());
    PostWaiting(trial_id, "");
    // The pod watch may have told why the pod waits before that line
    // cleared it: read the pod again.
    RefreshPods(trial_id);
    const std::string uid = StringAt(*created, {"metadata", "uid"});
    const nlohmann::json secret = BuildTokenSecret(
        spec_, trial, JobName(options_.study, trial_id), uid,
        launch.env.contains("VERNIER_TOKEN") ? launch.env.at("VERNIER_TOKEN")
                                             : "");
    absl::StatusOr<nlohmann::json> stored = client_->Call(
        "POST",
        absl::StrCat("/api/v1/namespaces/", spec_.namespace_(), "/secrets"),
        &secret);
    if (!stored.ok() && !absl::IsAlreadyExists(stored.status())) {
      return Fail(trial_id, stored.status());
    }
    absl::MutexLock lock(&mu_);
    if (auto it = runs_.find(trial_id); it != runs_.end()) {
      it->second.created = true;
    }
  }

  // Ends a trial whose Job could not be made (or must go): deletes it.
  void Fail(int64_t trial_id, absl::Status error) {
    spdlog::warn("study {}: trial {}: {}", options_.study, trial_id,
                 error.ToString());
    WorkerExited exited;
    exited.trial_id = trial_id;
    exited.launch_error = std::move(error);
    Finish(trial_id, std::move(exited), /*delete_job=*/true);
  }

  // Posts the trial's WorkerExited once, with its log; frees its slot.
  void Finish(int64_t trial_id, WorkerExited exited, bool delete_job) {
    Run run;
    {
      absl::MutexLock lock(&mu_);
      auto it = runs_.find(trial_id);
      if (it == runs_.end() || it->second.launch.trial_id == -1) return;
      run = it->second;
      it->second.launch.trial_id = -1;  // being finished
    }
    if (!run.pod_name.empty()) {
      absl::StatusOr<std::string> log = client_->GetText(
          absl::StrCat(pods_path_, "/", run.pod_name,
                       "/log?limitBytes=", options_.log_limit_bytes));
      if (log.ok()) {
        if (!run.launch.log_path.empty()) {
          std::ofstream(run.launch.log_path, std::ios::app) << *log;
        }
        exited.log_tail = Tail(*log, options_.log_tail_lines);
      }
    }
    if (delete_job) {
      if (absl::Status deleted = DeleteJob(run.job_name); !deleted.ok()) {
        spdlog::warn("study {}: cannot delete Job {}: {}", options_.study,
                     run.job_name, deleted.ToString());
      }
    }
    if (run.slot_held) options_.slots->Release();
    exited.trial_id = trial_id;
    if (!exited.end_time.has_value()) exited.end_time = run.finished_at;
    {
      // A pod that ran is told of before its end, even when it ended before
      // OnPod could tell.
      absl::MutexLock post_lock(&post_mu_);
      std::optional<absl::Time> untold;
      {
        absl::MutexLock lock(&mu_);
        auto it = runs_.find(trial_id);
        if (it != runs_.end() && !it->second.running_posted) {
          untold = it->second.ran_since;
          it->second.running_posted = true;
        }
      }
      if (untold.has_value()) sink_(WorkerRunning{trial_id, *untold});
      sink_(std::move(exited));
    }
    absl::MutexLock lock(&mu_);
    runs_.erase(trial_id);
  }

  absl::Status DeleteJob(const std::string& name) {
    const nlohmann::json options = {{"apiVersion", "v1"},
                                    {"kind", "DeleteOptions"},
                                    {"propagationPolicy", "Background"}};
    absl::StatusOr<nlohmann::json> deleted =
        client_->Call("DELETE", absl::StrCat(jobs_path_, "/", name), &options);
    if (deleted.ok() || absl::IsNotFound(deleted.status())) {
      return absl::OkStatus();
    }
    return deleted.status();
  }

  // The token in the Secret of `job`, when that Secret is the Job's own
  // (owned by its uid, so not one left from an earlier Job of that name).
  std::optional<std::string> TokenOf(const nlohmann::json& job) {
    const std::string name = StringAt(job, {"metadata", "name"});
    const std::string uid = StringAt(job, {"metadata", "uid"});
    absl::StatusOr<nlohmann::json> secret = client_->Call(
        "GET", absl::StrCat("/api/v1/namespaces/", spec_.namespace_(),
                            "/secrets/", SecretName(name)));
    if (!secret.ok()) {
      spdlog::warn("study {}: cannot read the token Secret of Job {}: {}",
                   options_.study, name, secret.status().ToString());
      return std::nullopt;
    }
    bool owned = false;
    const nlohmann::json owners =
        secret->value(nlohmann::json::json_pointer("/metadata/ownerReferences"),
                      nlohmann::json::array());
    for (const nlohmann::json& owner : owners) {
      owned = owned || (!uid.empty() && owner.value("uid", "") == uid);
    }
    const nlohmann::json data = secret->value("data", nlohmann::json::object());
    std::string token;
    if (!owned || !data.contains(kTokenKey) || !data[kTokenKey].is_string() ||
        !absl::Base64Unescape(data[kTokenKey].get<std::string>(), &token) ||
        token.empty()) {
      spdlog::warn("study {}: the Secret of Job {} holds no token of it",
                   options_.study, name);
      return std::nullopt;
    }
    return token;
  }

  void OnJob(const std::string& type, const nlohmann::json& job) {
    const int64_t trial_id = TrialIdOf(job);
    {
      absl::MutexLock lock(&mu_);
      auto it = runs_.find(trial_id);
      if (it == runs_.end() || !it->second.created ||
          it->second.stop_requested) {
        return;
      }
    }
    WorkerExited exited;
    if (type == "DELETED") {
      exited.launch_error = absl::AbortedError(
          "its Job was deleted by someone else than Vernier");
      return Finish(trial_id, std::move(exited), false);
    }
    const JobState state = ReadJobState(job);
    if (state.phase == JobPhase::kActive) return;
    // The pod watch is a separate stream: it may not have told yet.
    const std::optional<int> code = ExitCodeOf(trial_id);
    switch (state.phase) {
      case JobPhase::kActive:
        return;
      case JobPhase::kSucceeded:
        exited.exit_code = 0;
        break;
      case JobPhase::kDeadlineExceeded:
        exited.timed_out = true;
        break;
      case JobPhase::kFailed: {
        if (code.has_value()) {
          exited.exit_code = code;
        } else {
          exited.launch_error = absl::AbortedError(
              absl::StrCat("its Job failed: ", state.reason));
        }
        break;
      }
    }
    Finish(trial_id, std::move(exited), false);
  }

  // The exit code of the trial's pod (and its name, for the log): as
  // watched, else as listed now.
  std::optional<int> ExitCodeOf(int64_t trial_id) {
    {
      absl::MutexLock lock(&mu_);
      auto it = runs_.find(trial_id);
      if (it != runs_.end() && it->second.exit_code.has_value() &&
          !it->second.pod_name.empty()) {
        return it->second.exit_code;
      }
    }
    RefreshPods(trial_id);
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(trial_id);
    return it == runs_.end() ? std::nullopt : it->second.exit_code;
  }

  // Reads the trial's pods as they are now (their name, exit code, why they
  // wait).
  void RefreshPods(int64_t trial_id) {
    absl::StatusOr<nlohmann::json> pods = client_->Call(
        "GET", absl::StrCat(
                   pods_path_, "?labelSelector=",
                   UrlEncode(absl::StrCat(kTrialLabel, "=", trial_id, ",",
                                          kOwnerLabel, "=", options_.owner))));
    if (!pods.ok()) return;
    const nlohmann::json& items = JsonAt(*pods, {"items"});
    if (!items.is_array()) return;
    for (const nlohmann::json& pod : items) OnPod("ADDED", pod);
  }

  void OnPod(const std::string& type, const nlohmann::json& pod) {
    const int64_t trial_id = TrialIdOf(pod);
    const std::string reason = PodWaitingReason(pod);
    {
      absl::MutexLock lock(&mu_);
      auto it = runs_.find(trial_id);
      if (it == runs_.end() || type == "DELETED") return;
      it->second.pod_name = StringAt(pod, {"metadata", "name"});
      if (std::optional<int> code = PodExitCode(pod)) {
        it->second.exit_code = code;
      }
      if (!it->second.ran_since.has_value() && PodHasRun(pod)) {
        it->second.ran_since = PodStartedAt(pod).value_or(options_.clock());
      }
      if (std::optional<absl::Time> finished = PodFinishedAt(pod)) {
        it->second.finished_at = finished;
      }
    }
    PostWaiting(trial_id, reason);
    PostRunning(trial_id);
  }

  // Posts WorkerRunning once the trial's pod is seen to run, unless Finish
  // has begun (it tells then); post_mu_ keeps it before WorkerExited.
  void PostRunning(int64_t trial_id) {
    absl::MutexLock post_lock(&post_mu_);
    std::optional<absl::Time> since;
    {
      absl::MutexLock lock(&mu_);
      auto it = runs_.find(trial_id);
      if (it == runs_.end() || it->second.launch.trial_id == -1 ||
          it->second.running_posted || !it->second.ran_since.has_value()) {
        return;
      }
      it->second.running_posted = true;
      since = it->second.ran_since;
    }
    sink_(WorkerRunning{trial_id, *since});
  }

  // Lists, then watches from the list's version; resumes after each end of
  // the stream, lists again on 410 Gone, backs off on errors.
  void WatchLoop(const std::string& path, bool jobs) {
    const auto handle = [&](const std::string& type,
                            const nlohmann::json& object) {
      jobs ? OnJob(type, object) : OnPod(type, object);
    };
    std::string version;
    int failures = 0;
    while (!Closing()) {
      absl::Status status;
      if (version.empty()) {
        absl::StatusOr<nlohmann::json> list = client_->Call(
            "GET", absl::StrCat(path, "?labelSelector=", selector_));
        if (list.ok()) {
          const nlohmann::json& items = JsonAt(*list, {"items"});
          if (items.is_array()) {
            for (const nlohmann::json& item : items) handle("ADDED", item);
          }
          version = StringAt(*list, {"metadata", "resourceVersion"}, "0");
        }
        status = list.status();
      } else {
        status = client_->Watch(
            absl::StrCat(path, "?watch=1&allowWatchBookmarks=true",
                         "&labelSelector=", selector_,
                         "&resourceVersion=", version, "&timeoutSeconds=",
                         absl::ToInt64Seconds(options_.watch_timeout)),
            [&](const std::string& type, const nlohmann::json& object) {
              version =
                  StringAt(object, {"metadata", "resourceVersion"}, version);
              if (type != "BOOKMARK") handle(type, object);
            },
            [this] { return Closing(); });
        if (absl::IsOutOfRange(status)) {
          spdlog::info("study {}: watch of {} is too old; listing again",
                       options_.study, path);
          version.clear();
          continue;
        }
      }
      if (status.ok() || absl::IsCancelled(status)) {
        failures = 0;
        continue;
      }
      spdlog::warn("study {}: watch of {}: {}", options_.study, path,
                   status.ToString());
      const absl::Duration wait = client_->Backoff(++failures + 1);
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&closing_), wait);
    }
  }

  void Housekeeping() {
    while (true) {
      std::vector<int64_t> to_stop;
      std::vector<std::pair<int64_t, std::string>> too_long;
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&closing_), absl::Seconds(1));
        if (closing_) return;
        const absl::Time now = options_.clock();
        for (const auto& [id, run] : runs_) {
          if (run.launch.trial_id == -1) continue;
          if (run.stop_requested) {
            to_stop.push_back(id);
          } else if (!run.waiting_reason.empty() && run.created &&
                     now - run.waiting_since >= options_.pending_timeout) {
            too_long.emplace_back(id, run.waiting_reason);
          }
        }
      }
      for (int64_t id : to_stop) {
        WorkerExited exited;
        exited.stopped = true;
        Finish(id, std::move(exited), /*delete_job=*/true);
      }
      for (const auto& [id, reason] : too_long) {
        Fail(id, absl::DeadlineExceededError(absl::StrCat(
                     "waited ", absl::FormatDuration(options_.pending_timeout),
                     " for its pod to start: ", reason)));
      }
    }
  }

  const v1::KubernetesWorkerSpec spec_;
  const std::shared_ptr<KubeClient> client_;
  const ExecutorEventSink sink_;
  KubernetesExecutorOptions options_;
  const std::string jobs_path_;
  const std::string pods_path_;
  const std::string selector_;
  absl::Mutex shutdown_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Held while posting WorkerRunning and WorkerExited, to keep their order.
  absl::Mutex post_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::map<int64_t, Run> runs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Set once every run has ended: the threads return.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

bool JobSlots::Acquire(const std::function<bool()>& cancelled,
                       absl::Duration poll) {
  if (capacity_ <= 0) return true;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto free = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return used_ < capacity_;
      };
      if (mu_.AwaitWithTimeout(absl::Condition(&free), poll)) {
        ++used_;
        return true;
      }
    }
    if (cancelled()) return false;
  }
}

void JobSlots::AcquireRunning() {
  if (capacity_ <= 0) return;
  absl::MutexLock lock(&mu_);
  ++used_;
}

void JobSlots::Release() {
  if (capacity_ <= 0) return;
  absl::MutexLock lock(&mu_);
  --used_;
}

std::unique_ptr<trial_runner::Executor> NewKubernetesExecutor(
    const v1::KubernetesWorkerSpec& spec, std::shared_ptr<KubeClient> client,
    trial_runner::ExecutorEventSink sink, KubernetesExecutorOptions options) {
  return std::make_unique<KubernetesExecutor>(
      spec, std::move(client), std::move(sink), std::move(options));
}

StudyExecutorFactory KubernetesExecutorFactory(
    KubeconfigSources sources, std::string owner, int max_jobs,
    KubeClientOptions client_options) {
  auto slots = std::make_shared<JobSlots>(max_jobs);
  return [sources = std::move(sources), owner = std::move(owner), slots,
          client_options = std::move(client_options)](
             const v1::Study& study, trial_runner::ExecutorEventSink sink)
             -> absl::StatusOr<std::unique_ptr<trial_runner::Executor>> {
    const v1::KubernetesWorkerSpec& spec = study.spec().worker().kubernetes();
    absl::StatusOr<ClusterConfig> cluster =
        ResolveCluster(sources, spec.context());
    if (!cluster.ok()) return cluster.status();
    KubeClientOptions study_client_options = client_options;
    // Each study's client backs off on its own jitter.
    study_client_options.jitter_seed = std::random_device{}();
    auto client = std::make_shared<KubeClient>(
        std::make_shared<Credentials>(*std::move(cluster),
                                      ProcessCommandRunner(),
                                      [] { return absl::Now(); }),
        std::shared_ptr<HttpTransport>(NewCurlTransport()),
        std::move(study_client_options));
    KubernetesExecutorOptions options;
    options.study = study.name();
    options.owner = owner;
    options.slots = slots;
    return NewKubernetesExecutor(spec, std::move(client), std::move(sink),
                                 std::move(options));
  };
}

}  // namespace vernier::kubernetes
