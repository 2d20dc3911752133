// QueryTrials, CountTrials, ListMetricValues and ObservedStore.
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/observed_store.h"
#include "storage/sqlite_store.h"
#include "vernier/v1/study.pb.h"

namespace vernier::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class TrialQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vernier-query-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "vernier.db").string();
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t AddStudy(const std::string& name) {
    v1::Study study;
    study.set_name(name);
    absl::StatusOr<v1::Study> created = store_->CreateStudy(study);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->id() : 0;
  }

  // Trial `number` with lr = number / 10, a categorical, and an objective
  // of (number - 5)^2 unless `objective` is false.
  v1::Trial AddTrial(int64_t study_id, int number, v1::Trial::State state,
                     bool objective = true) {
    v1::Trial trial;
    trial.set_study_id(study_id);
    trial.set_number(number);
    trial.set_state(state);
    (*trial.mutable_parameters())["lr"].set_number_value(number / 10.0);
    (*trial.mutable_parameters())["opt"].set_string_value(
        number % 2 == 0 ? "adam" : "<script>sgd</script>");
    if (objective) trial.set_objective((number - 5.0) * (number - 5.0));
    absl::StatusOr<std::vector<v1::Trial>> created =
        store_->CreateTrials({trial});
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->front() : trial;
  }

  std::vector<int> Numbers(const TrialQuery& query) {
    absl::StatusOr<TrialPage> page = store_->QueryTrials(query);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<int> numbers;
    if (!page.ok()) return numbers;
    for (const v1::Trial& trial : page->trials) {
      numbers.push_back(trial.number());
    }
    return numbers;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(TrialQueryTest, PagesInNumberOrderWithTheTotal) {
  const int64_t study = AddStudy("a");
  for (int n = 1; n <= 7; ++n) AddTrial(study, n, v1::Trial::SUCCEEDED);
  TrialQuery query{.study_id = study, .offset = 3, .limit = 3};
  absl::StatusOr<TrialPage> page = store_->QueryTrials(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 7);
  EXPECT_THAT(Numbers(query), ElementsAre(4, 5, 6));
  query.offset = 6;
  EXPECT_THAT(Numbers(query), ElementsAre(7));
  query.offset = 9;
  EXPECT_THAT(Numbers(query), IsEmpty());
}

TEST_F(TrialQueryTest, FiltersByStateAndParameterRange) {
  const int64_t study = AddStudy("a");
  const int64_t other = AddStudy("b");
  for (int n = 1; n <= 8; ++n) {
    AddTrial(study, n, n <= 4 ? v1::Trial::SUCCEEDED : v1::Trial::FAILED);
  }
  AddTrial(other, 1, v1::Trial::SUCCEEDED);
  TrialQuery query{.study_id = study, .states = {v1::Trial::FAILED}};
  EXPECT_THAT(Numbers(query), ElementsAre(5, 6, 7, 8));
  query.parameter_ranges = {{.name = "lr", .min = 0.55, .max = 0.7}};
  EXPECT_THAT(Numbers(query), ElementsAre(6, 7));
  query.states = {};
  query.parameter_ranges = {{.name = "lr", .min = 0.0, .max = 0.2}};
  EXPECT_THAT(Numbers(query), ElementsAre(1, 2));
  // A categorical has no numeric value: a range on it matches nothing.
  query.parameter_ranges = {{.name = "opt", .min = -1e300, .max = 1e300}};
  EXPECT_THAT(Numbers(query), IsEmpty());
}

TEST_F(TrialQueryTest, SortsByObjectiveWithMissingOnesLast) {
  const int64_t study = AddStudy("a");
  for (int n = 1; n <= 6; ++n) {
    AddTrial(study, n, v1::Trial::SUCCEEDED, /*objective=*/n != 5);
  }
  TrialQuery query{.study_id = study, .order = TrialQuery::Order::kObjective};
  // Objectives: 16, 9, 4, 1, none, 1.
  EXPECT_THAT(Numbers(query), ElementsAre(4, 6, 3, 2, 1, 5));
  query.descending = true;
  EXPECT_THAT(Numbers(query), ElementsAre(1, 2, 3, 4, 6, 5));
}

TEST_F(TrialQueryTest, SortsByParameterAndState) {
  const int64_t study = AddStudy("a");
  AddTrial(study, 1, v1::Trial::RUNNING);
  AddTrial(study, 2, v1::Trial::PENDING);
  AddTrial(study, 3, v1::Trial::FAILED);
  TrialQuery query{.study_id = study,
                   .order = TrialQuery::Order::kParameter,
                   .order_parameter = "lr",
                   .descending = true};
  EXPECT_THAT(Numbers(query), ElementsAre(3, 2, 1));
  query.order = TrialQuery::Order::kState;
  query.descending = false;
  EXPECT_THAT(Numbers(query), ElementsAre(2, 1, 3));
}

TEST_F(TrialQueryTest, RejectsBadQueriesAndUnknownStudies) {
  const int64_t study = AddStudy("a");
  absl::StatusOr<TrialPage> page =
      store_->QueryTrials(TrialQuery{.study_id = study, .limit = 0});
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status().message(), HasSubstr("limit"));
  page = store_->QueryTrials(
      TrialQuery{.study_id = study, .order = TrialQuery::Order::kParameter});
  EXPECT_THAT(page.status().message(), HasSubstr("order_parameter"));
  page = store_->QueryTrials(TrialQuery{.study_id = study + 100});
  EXPECT_EQ(page.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TrialQueryTest, UpdatedParametersAreFilteredByTheirNewValue) {
  const int64_t study = AddStudy("a");
  v1::Trial trial = AddTrial(study, 1, v1::Trial::RUNNING);
  (*trial.mutable_parameters())["lr"].set_number_value(42);
  ASSERT_TRUE(store_->UpdateTrial(trial).ok());
  TrialQuery query{.study_id = study,
                   .parameter_ranges = {{.name = "lr", .min = 40, .max = 50}}};
  EXPECT_THAT(Numbers(query), ElementsAre(1));
}

TEST_F(TrialQueryTest, OpeningAnOldDatabaseFillsTheParameterColumn) {
  const int64_t study = AddStudy("a");
  AddTrial(study, 3, v1::Trial::SUCCEEDED);
  store_.reset();
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("UPDATE trials SET params = NULL");
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
  TrialQuery query{.study_id = study,
                   .parameter_ranges = {{.name = "lr", .min = 0.3, .max = 0.3}}};
  EXPECT_THAT(Numbers(query), ElementsAre(3));
}

MATCHER_P3(IsCount, study, state, count, "") {
  return arg.study_id == study && arg.state == state && arg.count == count;
}

TEST_F(TrialQueryTest, CountsTrialsOfEveryStudyByState) {
  const int64_t a = AddStudy("a");
  const int64_t b = AddStudy("b");
  AddTrial(a, 1, v1::Trial::SUCCEEDED);
  AddTrial(a, 2, v1::Trial::SUCCEEDED);
  AddTrial(a, 3, v1::Trial::RUNNING);
  AddTrial(b, 1, v1::Trial::FAILED);
  absl::StatusOr<std::vector<TrialStateCount>> counts = store_->CountTrials();
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_THAT(*counts, UnorderedElementsAre(
                           IsCount(a, v1::Trial::SUCCEEDED, 2),
                           IsCount(a, v1::Trial::RUNNING, 1),
                           IsCount(b, v1::Trial::FAILED, 1)));
}

v1::Measurement Step(int64_t step, double loss, double accuracy) {
  v1::Measurement measurement;
  measurement.set_step(step);
  (*measurement.mutable_metrics())["loss"] = loss;
  (*measurement.mutable_metrics())["accuracy"] = accuracy;
  return measurement;
}

MATCHER_P3(IsPoint, trial, step, value, "") {
  return arg.trial_id == trial && arg.step == step &&
         (std::isnan(value) ? std::isnan(arg.value) : arg.value == value);
}

TEST_F(TrialQueryTest, ListsOneMetricOfManyTrials) {
  const int64_t study = AddStudy("a");
  const int64_t t1 = AddTrial(study, 1, v1::Trial::RUNNING).id();
  const int64_t t2 = AddTrial(study, 2, v1::Trial::RUNNING).id();
  const int64_t t3 = AddTrial(study, 3, v1::Trial::RUNNING).id();
  ASSERT_TRUE(store_->AddMeasurements(t1, {Step(2, 0.5, 1), Step(1, 0.9, 2)})
                  .ok());
  ASSERT_TRUE(store_->AddMeasurements(t2, {Step(1, NAN, 3)}).ok());
  ASSERT_TRUE(store_->AddMeasurements(t3, {Step(1, 0.1, 4)}).ok());
  absl::StatusOr<std::vector<MetricPoint>> points =
      store_->ListMetricValues({t2, t1, 999}, "loss");
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_THAT(*points, ElementsAre(IsPoint(t1, 1, 0.9), IsPoint(t1, 2, 0.5),
                                   IsPoint(t2, 1, NAN)));
  std::vector<int64_t> too_many(Store::kMaxMetricTrials + 1, t1);
  EXPECT_EQ(store_->ListMetricValues(too_many, "loss").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Records what it is told.
class RecordingListener final : public StoreListener {
 public:
  void OnStudyWritten(const v1::Study& study) override {
    studies.push_back(study.name());
  }
  void OnTrialWritten(const v1::Trial& trial) override {
    trials.push_back(trial.number());
  }
  void OnMeasurementsWritten(
      int64_t trial_id,
      const std::vector<v1::Measurement>& measurements) override {
    measured.push_back(trial_id);
    steps += static_cast<int>(measurements.size());
  }
  std::vector<std::string> studies;
  std::vector<int> trials;
  std::vector<int64_t> measured;
  int steps = 0;
};

TEST_F(TrialQueryTest, ObservedStoreReportsDurableWritesOnly) {
  RecordingListener listener;
  ObservedStore observed(store_.get(), &listener);
  v1::Study study;
  study.set_name("watched");
  absl::StatusOr<v1::Study> created = observed.CreateStudy(study);
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(observed.CreateStudy(study).ok());  // a duplicate name
  v1::Trial trial;
  trial.set_study_id(created->id());
  trial.set_number(1);
  absl::StatusOr<std::vector<v1::Trial>> trials = observed.CreateTrials({trial});
  ASSERT_TRUE(trials.ok());
  trial = trials->front();
  trial.set_state(v1::Trial::RUNNING);
  ASSERT_TRUE(observed.UpdateTrial(trial).ok());
  ASSERT_TRUE(observed.AddMeasurements(trial.id(), {Step(1, 1, 1)}).ok());
  EXPECT_FALSE(observed.AddMeasurements(trial.id() + 50, {Step(1, 1, 1)}).ok());
  EXPECT_THAT(listener.studies, ElementsAre("watched"));
  EXPECT_THAT(listener.trials, ElementsAre(1, 1));
  EXPECT_THAT(listener.measured, ElementsAre(trial.id()));
  EXPECT_EQ(listener.steps, 1);
}

}  // namespace
}  // namespace vernier::storage
