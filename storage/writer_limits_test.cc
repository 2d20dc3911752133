#include "storage/writer_limits.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite_store.h"
#include "vernier/v1/study.pb.h"

namespace vernier::storage {
namespace {

using ::testing::HasSubstr;

v1::Study MakeStudy(const std::string& name, size_t padding = 0) {
  v1::Study study;
  study.set_name(name);
  study.set_yaml(std::string(padding, 'p'));
  study.set_state(v1::Study::ACTIVE);
  return study;
}

class WriterLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vernier-limits-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    limits_ = (dir_ / "limits").string();
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(
        (dir_ / "vernier.db").string(), {.test_limits_file = limits_});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void SetLimits(const std::string& text) {
    const std::string next = limits_ + ".next";
    std::ofstream(next) << text;
    std::filesystem::rename(next, limits_);
  }

  std::filesystem::path dir_;
  std::string limits_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(WriterLimitsTest, QueryOnlyRefusesWritesUntilLifted) {
  ASSERT_TRUE(store_->CreateStudy(MakeStudy("before")).ok());
  SetLimits("query_only=1\n");
  absl::StatusOr<v1::Study> refused = store_->CreateStudy(MakeStudy("during"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("read-only"));
  EXPECT_TRUE(store_->FindStudy("before").ok());  // reads go on

  SetLimits("query_only=0\n");
  EXPECT_TRUE(store_->CreateStudy(MakeStudy("after")).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->FindStudy("during").status()));
}

TEST_F(WriterLimitsTest, PageLimitFailsAsAFullDiskUntilRaised) {
  SetLimits("max_page_count=1\n");
  // A study bigger than a page needs new pages.
  absl::StatusOr<v1::Study> refused =
      store_->CreateStudy(MakeStudy("big", 20000));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("disk is full"));

  SetLimits("max_page_count=1073741823\n");
  EXPECT_TRUE(store_->CreateStudy(MakeStudy("big", 20000)).ok());
}

TEST_F(WriterLimitsTest, UnknownSettingsAreIgnored) {
  SetLimits("journal_mode=delete\nquery_only=x\n\n");
  EXPECT_TRUE(store_->CreateStudy(MakeStudy("fine")).ok());
}

}  // namespace
}  // namespace vernier::storage
