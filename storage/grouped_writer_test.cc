#include "storage/grouped_writer.h"

#include <stdlib.h>

#include <filesystem>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Statement.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// A fresh database with one table, kv(k PRIMARY KEY, v NOT NULL), and a
// GroupedWriter on it.
class GroupedWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vernier-writer-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "test.db").string();
    auto db = std::make_unique<SQLite::Database>(
        path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 5000);
    db->exec("PRAGMA journal_mode = WAL");
    db->exec("PRAGMA foreign_keys = ON");
    db->exec(
        "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) "
        "DEFERRABLE INITIALLY DEFERRED);");
    writer_ = std::make_unique<GroupedWriter>(std::move(db));
  }

  void TearDown() override {
    writer_.reset();
    std::filesystem::remove_all(dir_);
  }

  static Write Put(std::string key, int64_t value) {
    return [key, value](SQLite::Database& db) {
      SQLite::Statement insert(db, "INSERT INTO kv (k, v) VALUES (?, ?)");
      insert.bind(1, key);
      insert.bind(2, value);
      insert.exec();
      return absl::OkStatus();
    };
  }

  // The keys stored, read through a connection of its own.
  std::vector<std::string> Keys() {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    SQLite::Statement query(db, "SELECT k FROM kv");
    std::vector<std::string> keys;
    while (query.executeStep()) keys.push_back(query.getColumn(0).getString());
    return keys;
  }

  // Occupies the writer thread until `release_` is notified, so that writes
  // submitted meanwhile queue up and run as one batch.
  void HoldWriter() {
    std::latch started(1);
    holder_ = std::thread([this, &started] {
      EXPECT_TRUE(writer_
                      ->Submit([this, &started](SQLite::Database&) {
                        started.count_down();
                        release_.wait();
                        return absl::OkStatus();
                      })
                      .ok());
    });
    started.wait();
  }

  // Submits each write from its own thread; results land in `results`.
  std::vector<std::thread> SubmitAll(std::vector<Write> writes,
                                     std::vector<absl::Status>& results) {
    results.assign(writes.size(), absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < writes.size(); ++i) {
      threads.emplace_back([this, &results, i, write = std::move(writes[i])] {
        results[i] = writer_->Submit(write);
      });
    }
    return threads;
  }

  void WaitUntilPending(int64_t count) {
    while (writer_->stats().pending < count)
      absl::SleepFor(absl::Milliseconds(1));
  }

  void ReleaseWriter() {
    release_.count_down();
    holder_.join();
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<GroupedWriter> writer_;
  std::latch release_{1};
  std::thread holder_;
};

TEST_F(GroupedWriterTest, WriteIsVisibleToOtherConnectionsOnceSubmitReturns) {
  ASSERT_TRUE(writer_->Submit(Put("a", 1)).ok());
  EXPECT_THAT(Keys(), UnorderedElementsAre("a"));
  GroupedWriter::Stats stats = writer_->stats();
  EXPECT_EQ(stats.writes, 1);
  EXPECT_EQ(stats.commits, 1);
}

TEST_F(GroupedWriterTest, PendingWritesCommitTogether) {
  HoldWriter();
  std::vector<absl::Status> results;
  std::vector<std::thread> threads =
      SubmitAll({Put("a", 1), Put("b", 2), Put("c", 3), Put("d", 4)}, results);
  WaitUntilPending(4);
  ReleaseWriter();
  for (std::thread& thread : threads) thread.join();

  for (const absl::Status& result : results) EXPECT_TRUE(result.ok()) << result;
  EXPECT_THAT(Keys(), UnorderedElementsAre("a", "b", "c", "d"));
  GroupedWriter::Stats stats = writer_->stats();
  EXPECT_EQ(stats.writes, 5);
  // The holder's batch, then one batch for the four queued writes.
  EXPECT_EQ(stats.batches, 2);
  EXPECT_EQ(stats.commits, 2);
}

TEST_F(GroupedWriterTest, FailingWritesAreRolledBackAloneInTheirBatch) {
  ASSERT_TRUE(writer_->Submit(Put("taken", 0)).ok());
  HoldWriter();
  std::vector<absl::Status> results;
  std::vector<std::thread> threads = SubmitAll(
      {
          Put("good1", 1),
          // Changes something, then reports an error: its change must go.
          [](SQLite::Database& db) {
            db.exec("INSERT INTO kv (k, v) VALUES ('partial', 9)");
            return absl::FailedPreconditionError("refused by the write");
          },
          Put("taken", 2),  // a UNIQUE violation
          [](SQLite::Database& db) {
            db.exec("INSERT INTO kv (k, v) VALUES ('null', NULL)");
            return absl::OkStatus();
          },
          [](SQLite::Database& db) -> absl::Status {
            db.exec("INSERT INTO kv (k, v) VALUES ('thrown', 1)");
            throw std::runtime_error("boom");
          },
          Put("good2", 2),
      },
      results);
  WaitUntilPending(6);
  ReleaseWriter();
  for (std::thread& thread : threads) thread.join();

  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_EQ(results[1], absl::FailedPreconditionError("refused by the write"));
  EXPECT_EQ(results[2].code(), absl::StatusCode::kAlreadyExists) << results[2];
  EXPECT_EQ(results[3].code(), absl::StatusCode::kInvalidArgument)
      << results[3];
  EXPECT_EQ(results[4].code(), absl::StatusCode::kInternal) << results[4];
  EXPECT_THAT(results[4].message(), HasSubstr("boom"));
  EXPECT_TRUE(results[5].ok()) << results[5];
  EXPECT_THAT(Keys(), UnorderedElementsAre("taken", "good1", "good2"));
  EXPECT_EQ(writer_->stats().batches, 3);
}

TEST_F(GroupedWriterTest, FailedCommitFailsEveryWriteOfTheBatch) {
  HoldWriter();
  std::vector<absl::Status> results;
  std::vector<std::thread> threads = SubmitAll(
      {
          Put("a", 1),
          // A deferred foreign key is checked only at COMMIT, which fails.
          [](SQLite::Database& db) {
            db.exec("INSERT INTO child (parent_id) VALUES (42)");
            return absl::OkStatus();
          },
      },
      results);
  WaitUntilPending(2);
  ReleaseWriter();
  for (std::thread& thread : threads) thread.join();

  for (const absl::Status& result : results) {
    EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable) << result;
  }
  EXPECT_THAT(Keys(), ::testing::IsEmpty());
  // The writer goes on working after a failed commit.
  EXPECT_TRUE(writer_->Submit(Put("b", 2)).ok());
  EXPECT_THAT(Keys(), UnorderedElementsAre("b"));
}

TEST_F(GroupedWriterTest, DestructionRunsQueuedWritesFirst) {
  HoldWriter();
  std::vector<absl::Status> results;
  std::vector<std::thread> threads =
      SubmitAll({Put("a", 1), Put("b", 2), Put("c", 3)}, results);
  WaitUntilPending(3);
  release_.count_down();
  writer_.reset();
  holder_.join();
  for (std::thread& thread : threads) thread.join();

  for (const absl::Status& result : results) EXPECT_TRUE(result.ok()) << result;
  EXPECT_THAT(Keys(), UnorderedElementsAre("a", "b", "c"));
}

}  // namespace
}  // namespace vernier::storage
