#include "storage/schema.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite_store.h"

namespace vernier::storage {
namespace {

using ::testing::HasSubstr;

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vernier-schema-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "vernier.db").string();
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  SQLite::Database Open() {
    return SQLite::Database(path_,
                            SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  }

  static int64_t UserVersion(SQLite::Database& db) {
    return db.execAndGet("PRAGMA user_version").getInt64();
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SchemaTest, NewStoreReachesTheCurrentVersionInWalMode) {
  ASSERT_GE(CurrentSchemaVersion(), 1);
  ASSERT_TRUE(OpenSqliteStore(path_).ok());
  SQLite::Database db = Open();
  EXPECT_EQ(UserVersion(db), CurrentSchemaVersion());
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
  for (const char* table : {"studies", "trials", "measurements"}) {
    EXPECT_TRUE(db.tableExists(table)) << table;
  }
  // Reopening an up-to-date database works and keeps the version.
  ASSERT_TRUE(OpenSqliteStore(path_).ok());
  EXPECT_EQ(UserVersion(db), CurrentSchemaVersion());
}

TEST_F(SchemaTest, DatabaseFromANewerVernierIsRefused) {
  {
    SQLite::Database db = Open();
    db.exec("PRAGMA user_version = " +
            std::to_string(CurrentSchemaVersion() + 1));
  }
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(path_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("newer"));
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
}

TEST_F(SchemaTest, StepsRunOnceEachAndOnlyMissingOnesRun) {
  SQLite::Database db = Open();
  std::vector<std::string> steps = {
      "CREATE TABLE log (entry TEXT)",
      "INSERT INTO log VALUES ('two')",
  };
  ASSERT_TRUE(ApplyMigrations(db, steps, "test").ok());
  ASSERT_TRUE(ApplyMigrations(db, steps, "test").ok());
  EXPECT_EQ(UserVersion(db), 2);
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM log").getInt(), 1);

  steps.push_back("INSERT INTO log VALUES ('three')");
  ASSERT_TRUE(ApplyMigrations(db, steps, "test").ok());
  EXPECT_EQ(UserVersion(db), 3);
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM log").getInt(), 2);
}

TEST_F(SchemaTest, FailingStepKeepsNothingOfItselfAndStopsThere) {
  SQLite::Database db = Open();
  const std::vector<std::string> steps = {
      "CREATE TABLE a (x)",
      "CREATE TABLE b (x); INSERT INTO missing VALUES (1)",
      "CREATE TABLE c (x)",
  };
  absl::Status status = ApplyMigrations(db, steps, "test.db");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("test.db"));
  EXPECT_THAT(status.message(), HasSubstr("version 2"));
  EXPECT_EQ(UserVersion(db), 1);
  EXPECT_TRUE(db.tableExists("a"));
  EXPECT_FALSE(db.tableExists("b"));
  EXPECT_FALSE(db.tableExists("c"));
}

}  // namespace
}  // namespace vernier::storage
