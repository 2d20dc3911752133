#include "web/live_updates.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::web {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

v1::Trial Trial(int64_t id, int64_t study, v1::Trial::State state) {
  v1::Trial trial;
  trial.set_id(id);
  trial.set_study_id(study);
  trial.set_number(static_cast<int32_t>(id));
  trial.set_state(state);
  return trial;
}

TEST(LiveUpdatesTest, KeepsEventsInOrderAndFiltersByStudy) {
  LiveUpdates live;
  live.OnTrialWritten(Trial(1, 10, v1::Trial::RUNNING));
  live.OnTrialWritten(Trial(2, 20, v1::Trial::RUNNING));
  live.OnMeasurementsWritten(1, {v1::Measurement()});
  LiveUpdates::Batch all = live.Wait(0, 0, absl::ZeroDuration());
  ASSERT_THAT(all.events, SizeIs(3));
  EXPECT_EQ(all.last_sequence, 3);
  EXPECT_FALSE(all.lost);
  LiveUpdates::Batch one = live.Wait(0, 10, absl::ZeroDuration());
  ASSERT_THAT(one.events, SizeIs(2));
  EXPECT_THAT(one.events[1].json, HasSubstr(R"("kind":"measurements")"));
  EXPECT_THAT(one.events[1].json, HasSubstr(R"("study_id":10)"));
  EXPECT_EQ(one.last_sequence, 3);  // the cursor passes the other study's
  EXPECT_THAT(live.Wait(3, 0, absl::ZeroDuration()).events, SizeIs(0));
}

TEST(LiveUpdatesTest, SaysWhenEventsWereDropped) {
  LiveUpdates live;
  for (size_t i = 0; i < LiveUpdates::kCapacity + 5; ++i) {
    live.OnTrialWritten(Trial(1, 1, v1::Trial::RUNNING));
  }
  EXPECT_TRUE(live.Wait(0, 0, absl::ZeroDuration()).lost);
  EXPECT_FALSE(live.Wait(10, 0, absl::ZeroDuration()).lost);
}

TEST(LiveUpdatesTest, WaitWakesOnAWriteAndOnClose) {
  LiveUpdates live;
  std::thread writer([&live] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    live.OnStudyWritten(v1::Study());
  });
  LiveUpdates::Batch batch = live.Wait(0, 0, absl::Seconds(30));
  writer.join();
  EXPECT_THAT(batch.events, SizeIs(1));
  std::thread closer([&live] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    live.Close();
  });
  EXPECT_THAT(live.Wait(1, 0, absl::Seconds(30)).events, SizeIs(0));
  closer.join();
  EXPECT_TRUE(live.closed());
}

TEST(LiveUpdatesTest, CountsEachTrialStartAndFinishOnce) {
  int started = 0;
  std::vector<v1::Trial::State> finished;
  LiveUpdates live(LiveUpdates::TrialTransitions{
      .started = [&] { ++started; },
      .finished = [&](v1::Trial::State state) { finished.push_back(state); }});
  live.OnTrialWritten(Trial(1, 1, v1::Trial::PENDING));
  live.OnTrialWritten(Trial(1, 1, v1::Trial::RUNNING));
  live.OnTrialWritten(Trial(1, 1, v1::Trial::RUNNING));  // its pid recorded
  live.OnTrialWritten(Trial(1, 1, v1::Trial::SUCCEEDED));
  live.OnTrialWritten(Trial(1, 1, v1::Trial::SUCCEEDED));
  EXPECT_EQ(started, 1);
  EXPECT_EQ(finished, std::vector<v1::Trial::State>{v1::Trial::SUCCEEDED});
}

}  // namespace
}  // namespace vernier::web
