#include "trial-runner/local/local_executor.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trial-runner/local/process.h"

namespace vernier::trial_runner {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// Far longer than anything here should take; only a hung test waits this.
constexpr absl::Duration kPatience = absl::Seconds(20);

// Records events; thread-safe, as an ExecutorEventSink must be.
class EventLog {
 public:
  ExecutorEventSink Sink() {
    return [this](ExecutorEvent event) {
      absl::MutexLock lock(&mu_);
      events_.push_back(std::move(event));
    };
  }

  // The trial's WorkerExited, once posted.
  WorkerExited WaitForExit(int64_t trial_id) {
    absl::MutexLock lock(&mu_);
    auto exited = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return FindExitLocked(trial_id) != nullptr;
    };
    mu_.AwaitWithTimeout(absl::Condition(&exited), kPatience);
    const WorkerExited* found = FindExitLocked(trial_id);
    if (found == nullptr) {
      ADD_FAILURE() << "trial " << trial_id << " did not exit";
      return WorkerExited{};
    }
    return *found;
  }

  std::vector<ExecutorEvent> EventsOf(int64_t trial_id) {
    absl::MutexLock lock(&mu_);
    std::vector<ExecutorEvent> of_trial;
    for (const ExecutorEvent& event : events_) {
      if (std::visit([](const auto& e) { return e.trial_id; }, event) ==
          trial_id) {
        of_trial.push_back(event);
      }
    }
    return of_trial;
  }

 private:
  const WorkerExited* FindExitLocked(int64_t trial_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const ExecutorEvent& event : events_) {
      const auto* exited = std::get_if<WorkerExited>(&event);
      if (exited != nullptr && exited->trial_id == trial_id) return exited;
    }
    return nullptr;
  }

  absl::Mutex mu_;
  std::vector<ExecutorEvent> events_ ABSL_GUARDED_BY(mu_);
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls `done` until it holds or kPatience passes.
template <typename Predicate>
bool Eventually(Predicate done) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

bool GroupHasLiveMembers(pid_t pgid) {
  return !ListLiveProcessGroup(pgid).empty();
}

class LocalExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "vernier_local_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Executor> NewExecutor(LocalExecutorOptions options = {}) {
    options.drain_timeout = absl::Milliseconds(500);
    return NewLocalExecutor(events_.Sink(), options);
  }

  TrialLaunch Shell(int64_t trial_id, const std::string& script) {
    TrialLaunch launch;
    launch.trial_id = trial_id;
    launch.argv = {"/bin/sh", "-c", script};
    launch.working_dir = dir_;
    launch.log_path = LogPath(trial_id);
    launch.stop_grace = absl::Milliseconds(200);
    return launch;
  }

  std::string LogPath(int64_t trial_id) const {
    return dir_ + "/trial-" + std::to_string(trial_id) + ".log";
  }

  std::string dir_;
  EventLog events_;
};

TEST_F(LocalExecutorTest, SuccessPostsStartMetricsInOrderThenExit) {
  const std::string script = dir_ + "/train.py";
  std::ofstream(script) << R"(import sys
print("running train.py --C=3 --loss=9", flush=True)
print("step=1 loss=0.5 lr=0.1", flush=True)
print("warming up", file=sys.stderr, flush=True)
print("Epoch 2: step=2 loss=0.25", flush=True)
print('{"step": 3, "loss": 0.125}', flush=True)
print("accuracy=0.97 loss=0.1 C=3", end="", flush=True)
)";
  TrialLaunch launch;
  launch.trial_id = 7;
  launch.argv = {"/usr/bin/python3", script};
  launch.working_dir = dir_;
  launch.log_path = LogPath(7);
  launch.collect_stdout = true;
  launch.metric_names = {"loss", "accuracy"};
  auto executor = NewExecutor();
  executor->Launch(launch);

  const WorkerExited exited = events_.WaitForExit(7);
  EXPECT_TRUE(exited.launch_error.ok()) << exited.launch_error;
  EXPECT_EQ(exited.exit_code, 0);
  EXPECT_FALSE(exited.exit_signal.has_value());
  EXPECT_FALSE(exited.timed_out);
  EXPECT_FALSE(exited.stopped);

  const std::vector<ExecutorEvent> events = events_.EventsOf(7);
  ASSERT_EQ(events.size(), 6u);
  const auto& started = std::get<WorkerStarted>(events[0]);
  EXPECT_GT(started.local_worker.pid(), 0);
  EXPECT_GT(started.local_worker.start_ticks(), 0u);
  std::vector<std::pair<std::optional<int64_t>, std::map<std::string, double>>>
      metrics;
  for (int i = 1; i <= 4; ++i) {
    const auto& observed = std::get<MetricsObserved>(events[i]);
    metrics.emplace_back(observed.step, observed.metrics);
  }
  using Metrics = std::map<std::string, double>;
  EXPECT_THAT(
      metrics,
      ElementsAre(
          Pair(std::optional<int64_t>(1), Metrics{{"loss", 0.5}}),
          Pair(std::optional<int64_t>(2), Metrics{{"loss", 0.25}}),
          Pair(std::optional<int64_t>(3), Metrics{{"loss", 0.125}}),
          Pair(std::nullopt, Metrics{{"accuracy", 0.97}, {"loss", 0.1}})));
  EXPECT_TRUE(std::holds_alternative<WorkerExited>(events[5]));

  const std::string log = ReadFile(LogPath(7));
  EXPECT_THAT(log, HasSubstr("step=1 loss=0.5 lr=0.1\n"));
  EXPECT_THAT(log, HasSubstr("warming up\n"));
  EXPECT_THAT(log, HasSubstr("accuracy=0.97 loss=0.1 C=3\n"));
  EXPECT_EQ(exited.log_tail, log);
}

TEST_F(LocalExecutorTest, NoMetricsWithoutCollectStdout) {
  TrialLaunch launch = Shell(1, "echo loss=0.5");
  launch.metric_names = {"loss"};
  auto executor = NewExecutor();
  executor->Launch(launch);
  EXPECT_EQ(events_.WaitForExit(1).exit_code, 0);
  EXPECT_EQ(events_.EventsOf(1).size(), 2u);  // started, exited
  EXPECT_EQ(ReadFile(LogPath(1)), "loss=0.5\n");
}

TEST_F(LocalExecutorTest, FailureReportsExitCodeAndLogTail) {
  LocalExecutorOptions options;
  options.log_tail_lines = 3;
  auto executor = NewExecutor(options);
  executor->Launch(Shell(2,
                         "for i in 1 2 3 4 5 6; do echo out $i; done; "
                         "echo 'Traceback: bad thing' >&2; "
                         "echo 'ValueError: C must be positive' >&2; exit 3"));
  const WorkerExited exited = events_.WaitForExit(2);
  EXPECT_TRUE(exited.launch_error.ok());
  EXPECT_EQ(exited.exit_code, 3);
  EXPECT_EQ(exited.log_tail,
            "out 6\nTraceback: bad thing\nValueError: C must be positive\n");
}

TEST_F(LocalExecutorTest, MissingProgramIsALaunchError) {
  TrialLaunch launch = Shell(3, "");
  launch.argv = {"vernier-no-such-program", "--C=1"};
  auto executor = NewExecutor();
  executor->Launch(launch);
  const WorkerExited exited = events_.WaitForExit(3);
  EXPECT_TRUE(absl::IsNotFound(exited.launch_error)) << exited.launch_error;
  EXPECT_EQ(exited.launch_error.message(),
            "cannot run 'vernier-no-such-program': No such file or directory");
  EXPECT_FALSE(exited.exit_code.has_value());
  EXPECT_EQ(events_.EventsOf(3).size(), 1u);  // no WorkerStarted
  EXPECT_THAT(exited.log_tail,
              HasSubstr("cannot run 'vernier-no-such-program'"));
}

TEST_F(LocalExecutorTest, MissingWorkingDirIsALaunchError) {
  TrialLaunch launch = Shell(4, "true");
  launch.working_dir = dir_ + "/absent";
  auto executor = NewExecutor();
  executor->Launch(launch);
  const WorkerExited exited = events_.WaitForExit(4);
  EXPECT_THAT(exited.launch_error.message(),
              HasSubstr("cannot enter working directory '" + dir_ +
                        "/absent': No such file or directory"));
  EXPECT_EQ(events_.EventsOf(4).size(), 1u);
}

TEST_F(LocalExecutorTest, UnwritableLogIsALaunchError) {
  TrialLaunch launch = Shell(5, "true");
  launch.log_path = dir_ + "/absent/trial.log";
  auto executor = NewExecutor();
  executor->Launch(launch);
  EXPECT_THAT(events_.WaitForExit(5).launch_error.message(),
              HasSubstr("cannot open log file"));
}

TEST_F(LocalExecutorTest, TimeoutKillsTheWholeTreeEvenWhatIgnoresSigterm) {
  // Orphans of the worker's group become this process's children, so that
  // once reaped the group is gone (kill fails with ESRCH) however slowly
  // this machine's init reaps.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  TrialLaunch launch =
      Shell(6,
            "(trap '' TERM; sleep 30; echo survived) & "
            "trap '' TERM; echo ready; sleep 30; echo survived");
  launch.max_runtime = absl::Milliseconds(300);
  auto executor = NewExecutor();
  executor->Launch(launch);
  const WorkerExited exited = events_.WaitForExit(6);
  EXPECT_TRUE(exited.timed_out);
  EXPECT_FALSE(exited.stopped);
  // SIGKILL, unless SIGTERM came before the shell had set its trap.
  EXPECT_TRUE(exited.exit_signal.has_value());

  const pid_t pgid =
      std::get<WorkerStarted>(events_.EventsOf(6)[0]).local_worker.pid();
  EXPECT_TRUE(Eventually([&] { return !GroupHasLiveMembers(pgid); }));
  EXPECT_TRUE(Eventually([&] {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    return kill(-pgid, 0) != 0 && errno == ESRCH;
  }));
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_THAT(ReadFile(LogPath(6)), Not(HasSubstr("survived")));
}

TEST_F(LocalExecutorTest, WhenTheMainProcessExitsItsDescendantsAreKilled) {
  auto executor = NewExecutor();
  executor->Launch(Shell(17, "(sleep 30; echo survived) & echo done"));
  const WorkerExited exited = events_.WaitForExit(17);
  EXPECT_EQ(exited.exit_code, 0);
  const pid_t pgid =
      std::get<WorkerStarted>(events_.EventsOf(17)[0]).local_worker.pid();
  EXPECT_TRUE(Eventually([&] { return !GroupHasLiveMembers(pgid); }));
  EXPECT_EQ(ReadFile(LogPath(17)), "done\n");
}

TEST_F(LocalExecutorTest, StopEndsARunningTrial) {
  auto executor = NewExecutor();
  executor->Launch(Shell(8, "echo started; sleep 30"));
  executor->Stop(8);
  const WorkerExited exited = events_.WaitForExit(8);
  EXPECT_TRUE(exited.stopped);
  EXPECT_FALSE(exited.timed_out);
  EXPECT_EQ(exited.exit_signal, SIGTERM);
  executor->Stop(8);  // no longer running: no effect
  EXPECT_EQ(events_.EventsOf(8).size(), 2u);
}

TEST_F(LocalExecutorTest, ShutdownStopsEveryRunningTrial) {
  auto executor = NewExecutor();
  executor->Launch(Shell(9, "sleep 30"));
  executor->Launch(Shell(10, "trap '' TERM; echo ready; sleep 30"));
  ASSERT_TRUE(Eventually([&] {
    return ReadFile(LogPath(10)).find("ready") != std::string::npos;
  }));
  executor->Shutdown();
  EXPECT_TRUE(events_.WaitForExit(9).stopped);
  EXPECT_TRUE(events_.WaitForExit(10).stopped);
  EXPECT_EQ(events_.WaitForExit(10).exit_signal, SIGKILL);

  executor->Launch(Shell(11, "true"));
  EXPECT_TRUE(absl::IsFailedPrecondition(events_.WaitForExit(11).launch_error));
}

TEST_F(LocalExecutorTest, RecordsTheSignalThatKilledTheWorker) {
  auto executor = NewExecutor();
  executor->Launch(Shell(12, "kill -SEGV $$"));
  executor->Launch(Shell(13, "kill -9 $$"));
  const WorkerExited segv = events_.WaitForExit(12);
  EXPECT_EQ(segv.exit_signal, SIGSEGV);
  EXPECT_FALSE(segv.exit_code.has_value());
  EXPECT_EQ(events_.WaitForExit(13).exit_signal, SIGKILL);
}

TEST_F(LocalExecutorTest, EnvironmentAndWorkingDirReachTheWorker) {
  TrialLaunch launch =
      Shell(14,
            "echo \"dir=$(pwd) var=$VERNIER_TEST_VAR home=$HOME\"; "
            "echo \"path=${PATH:+set}\"; read line; echo \"stdin=$?\"");
  launch.env = {{"VERNIER_TEST_VAR", "a b=c"}, {"HOME", "/vernier/home"}};
  auto executor = NewExecutor();
  executor->Launch(launch);
  EXPECT_EQ(events_.WaitForExit(14).exit_code, 0);
  EXPECT_EQ(ReadFile(LogPath(14)), "dir=" + dir_ +
                                       " var=a b=c home=/vernier/home\n"
                                       "path=set\nstdin=1\n");
}

TEST_F(LocalExecutorTest, ADescendantThatLeftTheGroupDoesNotHangTheTrial) {
  // The main process waits until the descendant has left the group.
  TrialLaunch launch =
      Shell(15,
            "setsid sh -c 'echo escaped=$$; touch escaped; exec sleep 30' & "
            "while [ ! -e escaped ]; do sleep 0.01; done; echo loss=1");
  launch.collect_stdout = true;
  launch.metric_names = {"loss"};
  auto executor = NewExecutor();
  executor->Launch(launch);
  const WorkerExited exited = events_.WaitForExit(15);
  EXPECT_EQ(exited.exit_code, 0);
  EXPECT_THAT(exited.log_tail, HasSubstr("loss=1\n"));
  EXPECT_EQ(events_.EventsOf(15).size(), 3u);

  const std::string log = ReadFile(LogPath(15));
  const size_t at = log.find("escaped=");
  ASSERT_NE(at, std::string::npos);
  const pid_t escaped = std::stoi(log.substr(at + 8));
  EXPECT_EQ(kill(escaped, SIGKILL), 0);
}

TEST_F(LocalExecutorTest, RelaunchingARunningTrialIsRefused) {
  auto executor = NewExecutor();
  executor->Launch(Shell(16, "sleep 30"));
  executor->Launch(Shell(16, "true"));
  std::vector<ExecutorEvent> events = events_.EventsOf(16);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(
      absl::IsAlreadyExists(std::get<WorkerExited>(events[1]).launch_error));
  executor->Stop(16);
  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(16).size() == 3u; }));

  // Once it has exited, the same trial may run again.
  executor->Launch(Shell(16, "exit 4"));
  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(16).size() == 5u; }));
  EXPECT_EQ(std::get<WorkerExited>(events_.EventsOf(16)[4]).exit_code, 4);
}

// A worker left by an earlier executor process: a session of its own, as the
// executor makes it, running `script`.
pid_t StartOrphanWorker(const char* script) {
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

v1::Trial TrialRunBy(pid_t pid, uint64_t start_ticks) {
  v1::Trial trial;
  trial.mutable_local_worker()->set_pid(pid);
  trial.mutable_local_worker()->set_start_ticks(start_ticks);
  return trial;
}

TEST_F(LocalExecutorTest, ReclaimKillsTheRecordedWorkerGroup) {
  const pid_t pid = StartOrphanWorker("sleep 30 & sleep 30");
  ASSERT_GT(pid, 0);
  absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
  ASSERT_TRUE(stat.ok());
  // The shell and its background sleep (and a foreground one unless the
  // shell execs it).
  ASSERT_TRUE(
      Eventually([&] { return ListLiveProcessGroup(pid).size() >= 2; }));
  const size_t members = ListLiveProcessGroup(pid).size();
  auto executor = NewExecutor();

  // Another process that reuses the pid is left alone.
  EXPECT_TRUE(executor->Reclaim(TrialRunBy(pid, stat->start_ticks + 1)).ok());
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0);
  EXPECT_EQ(ListLiveProcessGroup(pid).size(), members);

  EXPECT_TRUE(executor->Reclaim(TrialRunBy(pid, stat->start_ticks)).ok());
  EXPECT_FALSE(GroupHasLiveMembers(pid));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(LocalExecutorTest, ReclaimKillsWhatOutlivedTheWorkersMainProcess) {
  const pid_t pid = StartOrphanWorker("sleep 30 & exit 0");
  ASSERT_GT(pid, 0);
  absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
  ASSERT_TRUE(stat.ok());
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  ASSERT_TRUE(GroupHasLiveMembers(pid));

  auto executor = NewExecutor();
  EXPECT_TRUE(executor->Reclaim(TrialRunBy(pid, stat->start_ticks)).ok());
  EXPECT_FALSE(GroupHasLiveMembers(pid));
}

TEST_F(LocalExecutorTest, ReclaimOfNothingIsOk) {
  auto executor = NewExecutor();
  EXPECT_TRUE(executor->Reclaim(v1::Trial()).ok());
  EXPECT_TRUE(executor->Reclaim(TrialRunBy(1 << 23, 12345)).ok());
}

}  // namespace
}  // namespace vernier::trial_runner
