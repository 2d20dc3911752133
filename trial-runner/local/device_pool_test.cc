#include "trial-runner/local/device_pool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::trial_runner {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

TEST(DevicePoolTest, HandsOutEachDeviceToOneHolderAtATime) {
  DevicePool pool({"0", "1", "2", "3"});
  EXPECT_THAT(pool.TryAcquire(1, 2, {}), Optional(ElementsAre("0", "1")));
  EXPECT_THAT(pool.TryAcquire(1, 2, {}), Optional(ElementsAre("2", "3")));
  EXPECT_EQ(pool.free_count(), 0);
  EXPECT_EQ(pool.TryAcquire(1, 1, {}), std::nullopt);
  pool.Release({"1"});
  EXPECT_THAT(pool.TryAcquire(1, 1, {}), Optional(ElementsAre("1")));
}

TEST(DevicePoolTest, TakesOnlyAllowedDevices) {
  DevicePool pool({"0", "1", "2", "3"});
  EXPECT_THAT(pool.TryAcquire(1, 2, {"3", "1"}), Optional(ElementsAre("1", "3")));
  EXPECT_EQ(pool.TryAcquire(1, 1, {"3", "1"}), std::nullopt);
}

TEST(DevicePoolTest, AWaitingStudyIsServedBeforeLaterOnes) {
  DevicePool pool({"0", "1"});
  ASSERT_TRUE(pool.TryAcquire(1, 1, {}).has_value());
  // Study 2 needs both devices and waits; study 3 asks for the free one and
  // must not overtake it.
  EXPECT_EQ(pool.TryAcquire(2, 2, {}), std::nullopt);
  EXPECT_EQ(pool.TryAcquire(3, 1, {}), std::nullopt);
  pool.Release({"0"});
  EXPECT_EQ(pool.TryAcquire(3, 1, {}), std::nullopt);
  EXPECT_THAT(pool.TryAcquire(2, 2, {}), Optional(ElementsAre("0", "1")));
  pool.Release({"0", "1"});
  EXPECT_THAT(pool.TryAcquire(3, 1, {}), Optional(ElementsAre("0")));
}

TEST(DevicePoolTest, StudiesTakeTurns) {
  DevicePool pool({"0"});
  ASSERT_TRUE(pool.TryAcquire(1, 1, {}).has_value());
  EXPECT_EQ(pool.TryAcquire(2, 1, {}), std::nullopt);
  EXPECT_EQ(pool.TryAcquire(1, 1, {}), std::nullopt);  // queues behind 2
  pool.Release({"0"});
  EXPECT_EQ(pool.TryAcquire(1, 1, {}), std::nullopt);
  EXPECT_TRUE(pool.TryAcquire(2, 1, {}).has_value());
}

TEST(DevicePoolTest, WithdrawingLetsTheNextWaiterIn) {
  DevicePool pool({"0", "1"});
  int releases = 0;
  pool.SetReleaseListener([&releases] { ++releases; });
  ASSERT_TRUE(pool.TryAcquire(1, 1, {}).has_value());
  EXPECT_EQ(pool.TryAcquire(2, 2, {}), std::nullopt);
  EXPECT_EQ(pool.TryAcquire(3, 1, {}), std::nullopt);
  pool.Withdraw(2);
  EXPECT_EQ(releases, 1);
  EXPECT_TRUE(pool.TryAcquire(3, 1, {}).has_value());
  pool.Release({"0"});
  EXPECT_EQ(releases, 2);
}

TEST(DevicePoolTest, DropsDuplicateDevices) {
  DevicePool pool({"0", "0", "1"});
  EXPECT_THAT(pool.devices(), ElementsAre("0", "1"));
}

class DiscoverGpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vernier-gpus-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& body) {
    const std::string path = (dir_ / "nvidia-smi").string();
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0755);
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(DiscoverGpusTest, ReadsTheIndicesOfNvidiaSmiCsv) {
  const std::string smi = Script(
      "cat <<'OUT'\n"
      "0, GPU-5c2b7a4e-3f0d-8a1b-6c9e-0d1f2a3b4c5d, NVIDIA A100-SXM4-40GB\n"
      "1, GPU-7e8f9a0b-1c2d-3e4f-5a6b-7c8d9e0f1a2b, NVIDIA A100-SXM4-40GB\n"
      "OUT\n");
  std::string error;
  EXPECT_THAT(DiscoverGpus(smi, &error), ElementsAre("0", "1"));
  EXPECT_THAT(error, IsEmpty());
}

TEST_F(DiscoverGpusTest, NoGpuWhenTheProgramIsMissingOrFails) {
  std::string error;
  EXPECT_THAT(DiscoverGpus((dir_ / "absent").string(), &error), IsEmpty());
  EXPECT_THAT(error, HasSubstr("cannot run"));
  const std::string failing = Script(
      "echo 'NVIDIA-SMI has failed because it could not communicate with the "
      "NVIDIA driver.'\nexit 9\n");
  EXPECT_THAT(DiscoverGpus(failing, &error), IsEmpty());
  EXPECT_THAT(error, HasSubstr("exited with code 9"));
}

TEST(AvailableCpusTest, ListsTheCoresOfThisProcess) {
  EXPECT_FALSE(AvailableCpus().empty());
}

}  // namespace
}  // namespace vernier::trial_runner
