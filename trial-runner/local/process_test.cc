#include "trial-runner/local/process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::trial_runner {
namespace {

using ::testing::HasSubstr;

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "vernier_process_XXXXXX";
  const char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return pattern;
}

// Everything `fd` yields until end of file.
std::string ReadToEnd(int fd) {
  std::string output;
  char buffer[256];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) {
    output.append(buffer, static_cast<size_t>(n));
  }
  return output;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(ParseProcStatTest, ReadsFieldsAfterACommandWithSpacesAndParens) {
  const std::string text =
      "4242 (my (weird) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 "
      "0 1 0 987654 1000 50 18446744073709551615\n";
  std::optional<ProcStat> stat = ParseProcStat(text);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->pgrp, 4242);
  EXPECT_EQ(stat->session, 4242);
  EXPECT_EQ(stat->start_ticks, 987654u);
}

TEST(ParseProcStatTest, RejectsTruncatedText) {
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_FALSE(ParseProcStat("12 (sh) S 1 12 12").has_value());
  EXPECT_FALSE(ParseProcStat("12 sh S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                             "5")
                   .has_value());
}

TEST(ReadProcStatTest, ReadsThisProcessAndMissesAnAbsentOne) {
  absl::StatusOr<ProcStat> self = ReadProcStat(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->pid, getpid());
  EXPECT_EQ(self->pgrp, getpgrp());
  EXPECT_GT(self->start_ticks, 0u);

  // Above any pid_max the kernel allows.
  EXPECT_TRUE(absl::IsNotFound(ReadProcStat(1 << 23).status()));
}

TEST(ReadLogTailTest, ReturnsTheLastLines) {
  const std::string path = MakeTempDir() + "/log";
  WriteFile(path, "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(ReadLogTail(path, 2, 1 << 20), "three\nfour\n");
  EXPECT_EQ(ReadLogTail(path, 10, 1 << 20), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(ReadLogTail(path, 0, 1 << 20), "");

  WriteFile(path, "one\ntwo\nunterminated");
  EXPECT_EQ(ReadLogTail(path, 2, 1 << 20), "two\nunterminated");
}

TEST(ReadLogTailTest, LeavesOutALineCutByTheByteBound) {
  const std::string path = MakeTempDir() + "/log";
  WriteFile(path, "a long first line\nshort\nend\n");
  // "short\nend\n" is 10 bytes; 12 bytes would cut "line\n".
  EXPECT_EQ(ReadLogTail(path, 10, 12), "short\nend\n");
  EXPECT_EQ(ReadLogTail(path, 10, 10), "short\nend\n");
  EXPECT_EQ(ReadLogTail(path, 10, 3), "");
}

TEST(ReadLogTailTest, IsEmptyForAMissingFile) {
  EXPECT_EQ(ReadLogTail(MakeTempDir() + "/absent", 10, 1024), "");
}

TEST(SpawnWorkerTest, NamesAProgramThatCannotRun) {
  absl::StatusOr<SpawnedWorker> worker =
      SpawnWorker({"vernier-no-such-program", "--x"}, {}, "/");
  ASSERT_FALSE(worker.ok());
  EXPECT_TRUE(absl::IsNotFound(worker.status()));
  EXPECT_EQ(worker.status().message(),
            "cannot run 'vernier-no-such-program': No such file or directory");

  const std::string dir = MakeTempDir();
  worker = SpawnWorker({dir}, {}, "/");  // a directory
  ASSERT_FALSE(worker.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(worker.status())) << worker.status();
}

TEST(SpawnWorkerTest, NamesAMissingWorkingDirectory) {
  absl::StatusOr<SpawnedWorker> worker =
      SpawnWorker({"/bin/true"}, {}, "/nonexistent/vernier");
  ASSERT_FALSE(worker.ok());
  EXPECT_THAT(worker.status().message(),
              HasSubstr("cannot enter working directory '/nonexistent/vernier'"
                        ": No such file or directory"));
}

TEST(SpawnWorkerTest, PinsTheWorkerToItsCores) {
  absl::StatusOr<SpawnedWorker> worker = SpawnWorker(
      {"/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status"}, {}, "/",
      {0});
  ASSERT_TRUE(worker.ok()) << worker.status();
  const std::string output = ReadToEnd(worker->stdout_fd.get());
  int status = 0;
  ASSERT_EQ(waitpid(worker->pid, &status, 0), worker->pid);
  EXPECT_EQ(output, "Cpus_allowed_list:\t0\n");

  worker = SpawnWorker({"/bin/true"}, {}, "/", {CPU_SETSIZE - 1});
  EXPECT_EQ(worker.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(worker.status().message(), HasSubstr("cannot pin"));
}

TEST(SpawnWorkerTest, FindsTheProgramOnTheWorkersOwnPath) {
  const std::string dir = MakeTempDir();
  const std::string script = dir + "/vernier-test-tool";
  WriteFile(script, "#!/bin/sh\necho tool ran\n");
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);

  absl::StatusOr<SpawnedWorker> worker = SpawnWorker(
      {"vernier-test-tool"}, {{"PATH", dir + ":/usr/bin:/bin"}}, dir);
  ASSERT_TRUE(worker.ok()) << worker.status();
  // The worker leads its own session and process group.
  absl::StatusOr<ProcStat> stat = ReadProcStat(worker->pid);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->pgrp, worker->pid);
  EXPECT_EQ(stat->session, worker->pid);

  const std::string output = ReadToEnd(worker->stdout_fd.get());
  int status = 0;
  ASSERT_EQ(waitpid(worker->pid, &status, 0), worker->pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(output, "tool ran\n");
}

}  // namespace
}  // namespace vernier::trial_runner
