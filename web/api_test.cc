// The JSON API's handlers against a real SQLite store: pagination, filters,
// sorting, errors, CSV and the guard on actions.
#include "web/api.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/sqlite_store.h"

namespace vernier::web {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vernier-api-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = storage::SqliteStore::Open((dir_ / "vernier.db").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    study_ = AddStudy("demo");
    // 25 trials: lr = n / 100, objective = (n - 10)^2, every fifth FAILED.
    std::vector<v1::Trial> trials;
    for (int n = 1; n <= 25; ++n) {
      v1::Trial trial;
      trial.set_study_id(study_.id());
      trial.set_number(n);
      (*trial.mutable_parameters())["lr"].set_number_value(n / 100.0);
      (*trial.mutable_parameters())["opt"].set_string_value(
          n % 2 ? "=cmd|' /C calc'!A0" : "sgd, \"fast\"");
      if (n % 5 == 0) {
        trial.set_state(v1::Trial::FAILED);
        trial.set_state_message("exited with code 1");
      } else {
        trial.set_state(v1::Trial::SUCCEEDED);
        trial.set_objective((n - 10.0) * (n - 10.0));
        (*trial.mutable_final_metrics())["loss"] = trial.objective();
      }
      trials.push_back(trial);
    }
    ASSERT_TRUE(store_->CreateTrials(trials).ok());
    api_ = std::make_unique<Api>(store_.get(), nullptr, "");
  }

  void TearDown() override {
    api_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  v1::Study AddStudy(const std::string& name) {
    v1::Study study;
    study.set_name(name);
    study.set_state(v1::Study::ACTIVE);
    v1::StudySpec& spec = *study.mutable_spec();
    spec.set_name(name);
    spec.mutable_objective()->set_metric("loss");
    spec.mutable_objective()->set_goal(v1::ObjectiveSpec::MINIMIZE);
    spec.mutable_trials()->set_max(30);
    v1::ParameterSpec& lr = *spec.add_parameters();
    lr.set_name("lr");
    lr.set_type(v1::ParameterSpec::DOUBLE);
    lr.set_min(0);
    lr.set_max(1);
    v1::ParameterSpec& opt = *spec.add_parameters();
    opt.set_name("opt");
    opt.set_type(v1::ParameterSpec::CATEGORICAL);
    return *store_->CreateStudy(study);
  }

  static nlohmann::json Body(const ApiResponse& response) {
    return nlohmann::json::parse(response.body);
  }

  static std::vector<int> Numbers(const ApiResponse& response) {
    std::vector<int> numbers;
    const nlohmann::json body = Body(response);
    for (const auto& trial : body["trials"]) {
      numbers.push_back(trial["number"].get<int>());
    }
    return numbers;
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<Api> api_;
  v1::Study study_;
};

TEST_F(ApiTest, PagesThroughTrialsWithTokens) {
  ApiResponse first = api_->ListTrials("demo", {{"page_size", "10"}});
  ASSERT_EQ(first.status, 200) << first.body;
  nlohmann::json body = Body(first);
  EXPECT_EQ(body["totalSize"], "25");  // int64 is a string in proto JSON
  std::vector<int> seen = Numbers(first);
  ASSERT_EQ(seen.size(), 10u) << first.body;
  EXPECT_EQ(seen.front(), 1);
  std::string token = body["nextPageToken"];
  while (!token.empty()) {
    ApiResponse page =
        api_->ListTrials("demo", {{"page_size", "10"}, {"page_token", token}});
    ASSERT_EQ(page.status, 200) << page.body;
    for (int n : Numbers(page)) seen.push_back(n);
    token = Body(page)["nextPageToken"];
  }
  ASSERT_EQ(seen.size(), 25u);
  for (int n = 1; n <= 25; ++n) EXPECT_EQ(seen[n - 1], n);
}

TEST_F(ApiTest, FiltersAndSortsOnTheServer) {
  ApiResponse failed = api_->ListTrials("demo", {{"state", "FAILED"}});
  EXPECT_EQ(Numbers(failed), (std::vector<int>{5, 10, 15, 20, 25}));
  ApiResponse ranged = api_->ListTrials(
      "demo", {{"range", "lr:0.08:0.12"}, {"order_by", "objective"}});
  // Trials 8, 9, 11, 12 succeeded (objective 4, 1, 1, 4); 10 failed.
  EXPECT_EQ(Numbers(ranged), (std::vector<int>{9, 11, 8, 12, 10}));
  ApiResponse by_param =
      api_->ListTrials("demo", {{"order_by", "params.lr desc"},
                                {"page_size", "2"}});
  EXPECT_EQ(Numbers(by_param), (std::vector<int>{25, 24}));
}

TEST_F(ApiTest, BadParametersAre400sNamingTheField) {
  for (const auto& [params, field] :
       std::vector<std::pair<QueryParams, std::string>>{
           {{{"page_size", "0"}}, "page_size"},
           {{{"page_size", "5000"}}, "page_size"},
           {{{"page_size", "ten"}}, "page_size"},
           {{{"page_token", "garbage"}}, "page_token"},
           {{{"page_token", PageToken(kMaxPageOffset + 1)}}, "page_token"},
           {{{"state", "DANCING"}}, "state"},
           {{{"range", "lr:1"}}, "range"},
           {{{"range", "opt:0:1"}}, "range"},
           {{{"range", "nope:0:1"}}, "range"},
           {{{"order_by", "params.nope"}}, "order_by"},
           {{{"order_by", "objective sideways"}}, "order_by"}}) {
    ApiResponse response = api_->ListTrials("demo", params);
    EXPECT_EQ(response.status, 400) << field;
    EXPECT_THAT(Body(response)["error"]["message"].get<std::string>(),
                StartsWith(field + ":"));
    EXPECT_EQ(Body(response)["error"]["status"], "INVALID_ARGUMENT");
  }
}

TEST_F(ApiTest, UnknownStudiesAndTrialsAre404s) {
  EXPECT_EQ(api_->GetStudy("nope").status, 404);
  EXPECT_EQ(api_->ListTrials("nope", {}).status, 404);
  EXPECT_EQ(api_->TrialColumns("nope").status, 404);
  EXPECT_EQ(api_->GetTrial("999999").status, 404);
  EXPECT_EQ(api_->GetTrial("abc").status, 400);
  EXPECT_THAT(Body(api_->GetStudy("nope"))["error"]["message"].get<std::string>(),
              HasSubstr("nope"));
}

TEST_F(ApiTest, StudyOverviewCountsAndBest) {
  ApiResponse response = api_->GetStudy("demo");
  ASSERT_EQ(response.status, 200) << response.body;
  nlohmann::json body = Body(response);
  EXPECT_EQ(body["counts"]["created"], "25");
  EXPECT_EQ(body["counts"]["failed"], "5");
  EXPECT_EQ(body["counts"]["succeeded"], "20");
  EXPECT_EQ(body["bestTrial"]["number"], 9);  // (9-10)^2 = 1 ties 11; earlier wins
  ApiResponse list = api_->ListStudies({{"page_size", "1"}});
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(Body(list)["studies"].size(), 1u);
  EXPECT_EQ(Body(list)["totalSize"], "1");
  EXPECT_EQ(Body(list)["nextPageToken"], "");
  EXPECT_EQ(api_->ListStudies({{"state", "DONE"}}).status, 200);
  EXPECT_EQ(Body(api_->ListStudies({{"state", "DONE"}}))["studies"].size(), 0u);
  EXPECT_EQ(api_->ListStudies({{"page_size", "101"}}).status, 400);
}

TEST_F(ApiTest, ColumnsHoldEveryTrialInNumberOrder) {
  ApiResponse response = api_->TrialColumns("demo");
  ASSERT_EQ(response.status, 200) << response.body;
  nlohmann::json body = Body(response);
  ASSERT_EQ(body["number"].size(), 25u);
  EXPECT_EQ(body["objective"][4], "NaN");  // trial 5 failed
  EXPECT_EQ(body["parameters"][0]["name"], "lr");
  EXPECT_DOUBLE_EQ(body["parameters"][0]["values"][2].get<double>(), 0.03);
  EXPECT_EQ(body["parameters"][1]["categories"][1], "sgd, \"fast\"");
}

TEST_F(ApiTest, CurvesFollowTheTableSelection) {
  ApiResponse page = api_->ListTrials("demo", {{"page_size", "2"}});
  const int64_t first = std::stoll(Body(page)["trials"][0]["id"].get<std::string>());
  v1::Measurement m;
  m.set_step(3);
  (*m.mutable_metrics())["loss"] = 0.25;
  ASSERT_TRUE(store_->AddMeasurements(first, {m}).ok());
  ApiResponse response = api_->Curves("demo", {{"page_size", "2"}});
  ASSERT_EQ(response.status, 200) << response.body;
  nlohmann::json body = Body(response);
  EXPECT_EQ(body["metric"], "loss");
  ASSERT_EQ(body["curves"].size(), 2u);
  EXPECT_EQ(body["curves"][0]["steps"][0], "3");
  EXPECT_DOUBLE_EQ(body["curves"][0]["values"][0].get<double>(), 0.25);
  EXPECT_EQ(body["curves"][1]["steps"].size(), 0u);
}

TEST_F(ApiTest, CsvQuotesAndDefusesFormulas) {
  ApiResponse response = api_->TrialsCsv("demo", {{"state", "SUCCEEDED"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(response.content_type, StartsWith("text/csv"));
  EXPECT_THAT(response.body,
              StartsWith("number,state,objective,params.lr,params.opt,"
                         "metrics.loss,start_time,end_time,state_message\r\n"
                         "1,SUCCEEDED,81,0.01,'=cmd|' /C calc'!A0,81,,,\r\n"
                         "2,SUCCEEDED,64,0.02,\"sgd, \"\"fast\"\"\",64,,,\r\n"));
}

TEST_F(ApiTest, ActionsNeedTheHeaderAndTheAdminToken) {
  Api guarded(store_.get(), nullptr, "s3cret");
  EXPECT_EQ(guarded.StopStudy("demo", "Bearer s3cret", "").status, 403);
  EXPECT_EQ(guarded.StopStudy("demo", "", "vernier").status, 401);
  EXPECT_EQ(guarded.StopStudy("demo", "Bearer wrong", "vernier").status, 403);
  EXPECT_EQ(guarded.StopTrial("1", "Bearer s3cre", "vernier").status, 403);
  EXPECT_EQ(Body(guarded.Config())["adminTokenRequired"], true);
  EXPECT_EQ(Body(api_->Config())["adminTokenRequired"], false);
}

}  // namespace
}  // namespace vernier::web
