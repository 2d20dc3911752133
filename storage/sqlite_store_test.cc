#include "storage/sqlite_store.h"

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "vernier/v1/study.pb.h"

namespace vernier::storage {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

MATCHER_P(EqualsProto, expected, "") {
  std::string difference;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&difference);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << difference;
  return false;
}

google::protobuf::Timestamp Time(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp time;
  time.set_seconds(seconds);
  time.set_nanos(nanos);
  return time;
}

v1::Study MakeStudy(const std::string& name) {
  v1::Study study;
  study.set_name(name);
  v1::StudySpec& spec = *study.mutable_spec();
  spec.set_name(name);
  spec.set_description("a study for tests");
  spec.mutable_objective()->set_metric("loss");
  spec.mutable_objective()->set_goal(v1::ObjectiveSpec::MINIMIZE);
  spec.mutable_objective()->set_target(0.01);
  spec.mutable_algorithm()->set_name("random");
  spec.mutable_algorithm()->set_seed(7);
  (*spec.mutable_algorithm()->mutable_settings()->mutable_fields())["k"]
      .set_number_value(3);
  v1::ParameterSpec& lr = *spec.add_parameters();
  lr.set_name("lr");
  lr.set_type(v1::ParameterSpec::DOUBLE);
  lr.set_min(1e-5);
  lr.set_max(1);
  lr.set_scale(v1::ParameterSpec::LOG);
  v1::ParameterSpec& opt = *spec.add_parameters();
  opt.set_name("optimizer");
  opt.set_type(v1::ParameterSpec::CATEGORICAL);
  opt.add_categories("adam");
  opt.add_categories("sgd");
  spec.mutable_trials()->set_max(20);
  spec.mutable_trials()->mutable_max_runtime()->set_seconds(3600);
  spec.mutable_worker()->add_command("python3");
  spec.mutable_worker()->add_command("train.py");
  (*spec.mutable_worker()->mutable_env())["A"] = "b";
  study.set_yaml("name: " + name + "\n");
  study.set_state(v1::Study::ACTIVE);
  study.set_seed(7);
  *study.mutable_create_time() = Time(1700000000, 123000000);
  return study;
}

v1::Trial MakeTrial(int64_t study_id, int32_t number) {
  v1::Trial trial;
  trial.set_study_id(study_id);
  trial.set_number(number);
  (*trial.mutable_parameters())["lr"].set_number_value(0.001 * number);
  (*trial.mutable_parameters())["optimizer"].set_string_value("adam");
  trial.set_state(v1::Trial::RUNNING);
  trial.set_objective(0.5 / number);
  (*trial.mutable_final_metrics())["loss"] = 0.5 / number;
  *trial.mutable_create_time() = Time(1700000100 + number);
  *trial.mutable_start_time() = Time(1700000200 + number);
  trial.set_exit_code(0);
  trial.set_log_path("/tmp/trial.log");
  trial.set_attempt(1);
  trial.mutable_local_worker()->set_pid(4242);
  trial.mutable_local_worker()->set_start_ticks(99);
  return trial;
}

v1::Measurement MakeMeasurement(
    int64_t step, std::vector<std::pair<std::string, double>> metrics,
    int64_t seconds) {
  v1::Measurement measurement;
  measurement.set_step(step);
  for (const auto& [name, value] : metrics) {
    (*measurement.mutable_metrics())[name] = value;
  }
  *measurement.mutable_time() = Time(seconds);
  return measurement;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vernier-store-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "vernier.db").string();
    Reopen();
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Closes the store (if open) and opens the same file again.
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  v1::Study CreateStudy(const std::string& name) {
    absl::StatusOr<v1::Study> study = store_->CreateStudy(MakeStudy(name));
    EXPECT_TRUE(study.ok()) << study.status();
    return study.value_or(v1::Study());
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, StudyRoundTrips) {
  v1::Study input = MakeStudy("alpha");
  input.set_id(99);  // ignored
  absl::StatusOr<v1::Study> created = store_->CreateStudy(input);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id(), 0);
  EXPECT_NE(created->id(), 99);
  v1::Study expected = input;
  expected.set_id(created->id());
  EXPECT_THAT(*created, EqualsProto(expected));

  absl::StatusOr<v1::Study> got = store_->GetStudy(created->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(expected));
  absl::StatusOr<v1::Study> found = store_->FindStudy("alpha");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(*found, EqualsProto(expected));
}

TEST_F(SqliteStoreTest, ListStudiesIsByIdAndUpdateReplaces) {
  v1::Study b = CreateStudy("b");
  v1::Study a = CreateStudy("a");
  b.set_state(v1::Study::DONE);
  b.set_end_reason(v1::Study::MAX_TRIALS);
  b.set_state_message("20 trials ended");
  *b.mutable_end_time() = Time(1700009999);
  ASSERT_TRUE(store_->UpdateStudy(b).ok());

  absl::StatusOr<std::vector<v1::Study>> studies = store_->ListStudies();
  ASSERT_TRUE(studies.ok()) << studies.status();
  ASSERT_THAT(*studies, SizeIs(2));
  EXPECT_THAT((*studies)[0], EqualsProto(b));
  EXPECT_THAT((*studies)[1], EqualsProto(a));
}

TEST_F(SqliteStoreTest, DuplicateStudyNameIsRefused) {
  v1::Study first = CreateStudy("same");
  absl::StatusOr<v1::Study> second = store_->CreateStudy(MakeStudy("same"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr("same"));

  v1::Study other = CreateStudy("other");
  other.set_name("same");
  EXPECT_EQ(store_->UpdateStudy(other).code(),
            absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::vector<v1::Study>> studies = store_->ListStudies();
  ASSERT_TRUE(studies.ok());
  EXPECT_THAT(*studies, SizeIs(2));
}

TEST_F(SqliteStoreTest, UnknownIdsAreNotFound) {
  v1::Study study = CreateStudy("s");
  v1::Study ghost = MakeStudy("ghost");
  ghost.set_id(study.id() + 100);
  EXPECT_EQ(store_->UpdateStudy(ghost).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetStudy(12345).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindStudy("nobody").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListTrials(12345).status().code(),
            absl::StatusCode::kNotFound);

  v1::Trial trial = MakeTrial(study.id(), 1);
  trial.set_id(777);
  EXPECT_EQ(store_->UpdateTrial(trial).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetTrial(777).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(
      store_->AddMeasurements(777, {MakeMeasurement(1, {{"x", 1}}, 1)}).code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListMeasurements(777).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, TrialsRoundTripWithoutMeasurementsAndByNumber) {
  v1::Study study = CreateStudy("s");
  std::vector<v1::Trial> input = {MakeTrial(study.id(), 3),
                                  MakeTrial(study.id(), 1),
                                  MakeTrial(study.id(), 2)};
  *input[0].add_measurements() = MakeMeasurement(1, {{"loss", 1}}, 5);
  absl::StatusOr<std::vector<v1::Trial>> created = store_->CreateTrials(input);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_THAT(*created, SizeIs(3));
  for (size_t i = 0; i < input.size(); ++i) {
    v1::Trial expected = input[i];
    expected.clear_measurements();
    expected.set_id((*created)[i].id());
    EXPECT_GT(expected.id(), 0);
    EXPECT_THAT((*created)[i], EqualsProto(expected));
    absl::StatusOr<v1::Trial> got = store_->GetTrial(expected.id());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_THAT(*got, EqualsProto(expected));
  }

  absl::StatusOr<std::vector<v1::Trial>> listed =
      store_->ListTrials(study.id());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(*listed, SizeIs(3));
  EXPECT_THAT((*listed)[0], EqualsProto((*created)[1]));
  EXPECT_THAT((*listed)[1], EqualsProto((*created)[2]));
  EXPECT_THAT((*listed)[2], EqualsProto((*created)[0]));
}

TEST_F(SqliteStoreTest, UpdateTrialReplacesAndDropsMeasurements) {
  v1::Study study = CreateStudy("s");
  absl::StatusOr<std::vector<v1::Trial>> created =
      store_->CreateTrials({MakeTrial(study.id(), 1)});
  ASSERT_TRUE(created.ok()) << created.status();
  v1::Trial trial = (*created)[0];
  trial.set_state(v1::Trial::FAILED);
  trial.set_state_message("exit code 3");
  trial.clear_objective();
  trial.set_exit_code(3);
  trial.set_log_tail("Traceback...\n");
  *trial.mutable_end_time() = Time(1700001000);
  *trial.add_measurements() = MakeMeasurement(1, {{"loss", 1}}, 5);
  ASSERT_TRUE(store_->UpdateTrial(trial).ok());

  trial.clear_measurements();
  absl::StatusOr<v1::Trial> got = store_->GetTrial(trial.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(trial));
  absl::StatusOr<std::vector<v1::Measurement>> measurements =
      store_->ListMeasurements(trial.id());
  ASSERT_TRUE(measurements.ok());
  EXPECT_THAT(*measurements, IsEmpty());
}

TEST_F(SqliteStoreTest, TrialOfUnknownStudyIsInvalid) {
  absl::StatusOr<std::vector<v1::Trial>> created =
      store_->CreateTrials({MakeTrial(404, 1)});
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(created.status().message(), HasSubstr("404"));
}

TEST_F(SqliteStoreTest, CreateTrialsIsAllOrNone) {
  v1::Study study = CreateStudy("s");
  ASSERT_TRUE(store_->CreateTrials({MakeTrial(study.id(), 2)}).ok());

  // Number 2 is taken: neither 4 nor 5 may be stored.
  EXPECT_EQ(
      store_
          ->CreateTrials({MakeTrial(study.id(), 4), MakeTrial(study.id(), 2),
                          MakeTrial(study.id(), 5)})
          .status()
          .code(),
      absl::StatusCode::kAlreadyExists);
  // A number twice in one call.
  EXPECT_EQ(
      store_->CreateTrials({MakeTrial(study.id(), 6), MakeTrial(study.id(), 6)})
          .status()
          .code(),
      absl::StatusCode::kAlreadyExists);
  // One trial of an unknown study.
  EXPECT_EQ(store_->CreateTrials({MakeTrial(study.id(), 7), MakeTrial(404, 1)})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::vector<v1::Trial>> listed =
      store_->ListTrials(study.id());
  ASSERT_TRUE(listed.ok());
  ASSERT_THAT(*listed, SizeIs(1));
  EXPECT_EQ((*listed)[0].number(), 2);
}

TEST_F(SqliteStoreTest, MeasurementsGroupByStepAndRepeatsAreIdempotent) {
  v1::Study study = CreateStudy("s");
  absl::StatusOr<std::vector<v1::Trial>> trials =
      store_->CreateTrials({MakeTrial(study.id(), 1)});
  ASSERT_TRUE(trials.ok());
  const int64_t trial_id = (*trials)[0].id();

  std::vector<v1::Measurement> reports = {
      MakeMeasurement(2, {{"loss", 0.5}}, 200),
      MakeMeasurement(1, {{"loss", 0.9}, {"acc", 0.1}}, 100),
  };
  ASSERT_TRUE(store_->AddMeasurements(trial_id, reports).ok());
  ASSERT_TRUE(store_->AddMeasurements(trial_id, reports).ok());  // a retry
  // A later report of another metric at step 2 moves the step's time.
  ASSERT_TRUE(
      store_
          ->AddMeasurements(trial_id, {MakeMeasurement(2, {{"acc", 0.4}}, 250)})
          .ok());

  absl::StatusOr<std::vector<v1::Measurement>> listed =
      store_->ListMeasurements(trial_id);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(
      *listed,
      ElementsAre(
          EqualsProto(MakeMeasurement(1, {{"loss", 0.9}, {"acc", 0.1}}, 100)),
          EqualsProto(MakeMeasurement(2, {{"loss", 0.5}, {"acc", 0.4}}, 250))));

  // A repeat with a new value overwrites rather than adding a row.
  ASSERT_TRUE(store_
                  ->AddMeasurements(trial_id,
                                    {MakeMeasurement(1, {{"loss", 0.8}}, 100)})
                  .ok());
  listed = store_->ListMeasurements(trial_id);
  ASSERT_TRUE(listed.ok());
  ASSERT_THAT(*listed, SizeIs(2));
  EXPECT_EQ((*listed)[0].metrics().at("loss"), 0.8);
  EXPECT_THAT((*listed)[0].metrics(), SizeIs(2));

  // Measurements never appear inside the trial.
  absl::StatusOr<v1::Trial> trial = store_->GetTrial(trial_id);
  ASSERT_TRUE(trial.ok());
  EXPECT_THAT(trial->measurements(), IsEmpty());
}

TEST_F(SqliteStoreTest, NonFiniteValuesRoundTrip) {
  v1::Study study = CreateStudy("s");
  v1::Trial input = MakeTrial(study.id(), 1);
  input.set_objective(std::numeric_limits<double>::infinity());
  absl::StatusOr<std::vector<v1::Trial>> trials = store_->CreateTrials({input});
  ASSERT_TRUE(trials.ok());
  const int64_t trial_id = (*trials)[0].id();
  ASSERT_TRUE(
      store_
          ->AddMeasurements(
              trial_id, {MakeMeasurement(
                            1,
                            {{"nan", std::numeric_limits<double>::quiet_NaN()},
                             {"inf", std::numeric_limits<double>::infinity()},
                             {"-inf", -std::numeric_limits<double>::infinity()},
                             {"zero", 0.0}},
                            10)})
          .ok());

  absl::StatusOr<std::vector<v1::Measurement>> listed =
      store_->ListMeasurements(trial_id);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(*listed, SizeIs(1));
  const auto& metrics = (*listed)[0].metrics();
  ASSERT_THAT(metrics, SizeIs(4));
  EXPECT_TRUE(std::isnan(metrics.at("nan")));
  EXPECT_EQ(metrics.at("inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(metrics.at("-inf"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(metrics.at("zero"), 0.0);

  absl::StatusOr<v1::Trial> trial = store_->GetTrial(trial_id);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->objective(), std::numeric_limits<double>::infinity());
}

TEST_F(SqliteStoreTest, EverythingSurvivesReopen) {
  v1::Study study = CreateStudy("durable");
  absl::StatusOr<std::vector<v1::Trial>> trials = store_->CreateTrials(
      {MakeTrial(study.id(), 1), MakeTrial(study.id(), 2)});
  ASSERT_TRUE(trials.ok());
  const v1::Measurement measurement =
      MakeMeasurement(5, {{"loss", 0.25}}, 1700000300);
  ASSERT_TRUE(store_->AddMeasurements((*trials)[1].id(), {measurement}).ok());

  Reopen();
  absl::StatusOr<v1::Study> got = store_->FindStudy("durable");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(study));
  absl::StatusOr<std::vector<v1::Trial>> listed =
      store_->ListTrials(study.id());
  ASSERT_TRUE(listed.ok());
  ASSERT_THAT(*listed, SizeIs(2));
  EXPECT_THAT((*listed)[0], EqualsProto((*trials)[0]));
  EXPECT_THAT((*listed)[1], EqualsProto((*trials)[1]));
  absl::StatusOr<std::vector<v1::Measurement>> measurements =
      store_->ListMeasurements((*trials)[1].id());
  ASSERT_TRUE(measurements.ok());
  EXPECT_THAT(*measurements, ElementsAre(EqualsProto(measurement)));

  // New ids continue after the old ones.
  v1::Study next = CreateStudy("next");
  EXPECT_GT(next.id(), study.id());
}

TEST_F(SqliteStoreTest, ConcurrentReportsAreAllStoredInFewerCommits) {
  constexpr int kThreads = 8;
  constexpr int kReportsPerThread = 250;
  v1::Study study = CreateStudy("busy");
  std::vector<v1::Trial> input;
  for (int i = 1; i <= kThreads; ++i) input.push_back(MakeTrial(study.id(), i));
  absl::StatusOr<std::vector<v1::Trial>> trials = store_->CreateTrials(input);
  ASSERT_TRUE(trials.ok());
  const GroupedWriter::Stats before = store_->writer_stats();

  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &trials, &failures] {
      for (int step = 0; step < kReportsPerThread; ++step) {
        if (!store_
                 ->AddMeasurements(
                     (*trials)[t].id(),
                     {MakeMeasurement(step, {{"loss", 1.0 / (step + 1)}},
                                      step)})
                 .ok()) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_THAT(failures, ::testing::Each(0));
  for (const v1::Trial& trial : *trials) {
    absl::StatusOr<std::vector<v1::Measurement>> listed =
        store_->ListMeasurements(trial.id());
    ASSERT_TRUE(listed.ok());
    ASSERT_THAT(*listed, SizeIs(kReportsPerThread));
    EXPECT_EQ(listed->back().step(), kReportsPerThread - 1);
  }
  const GroupedWriter::Stats after = store_->writer_stats();
  const int64_t writes = after.writes - before.writes;
  const int64_t commits = after.commits - before.commits;
  RecordProperty("writes", static_cast<int>(writes));
  RecordProperty("commits", static_cast<int>(commits));
  EXPECT_EQ(writes, kThreads * kReportsPerThread);
  EXPECT_LT(commits, writes);
}

TEST(SqliteStoreOpenTest, MissingDirectoryIsUnavailableAndNamesThePath) {
  const std::string path = "/nonexistent-vernier-dir/sub/vernier.db";
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

TEST_F(SqliteStoreTest, FileThatIsNotADatabaseIsRefused) {
  const std::string path = (dir_ / "notes.txt").string();
  std::ofstream(path) << std::string(4096, 'x');
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace vernier::storage
