// The two services end to end: a real server on 127.0.0.1:0, real stubs over
// a channel, a real SqliteStore, and a fake StudyManager.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/measurement_stream.h"
#include "server/requests.h"
#include "server/server_test_util.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ServerFixture;
using ::testing::SizeIs;

constexpr char kStudyYaml[] = R"(name: demo
objective: {metric: loss, goal: minimize}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: {max: 5}
worker:
  command: [python3, train.py]
)";

v1::StudySpec ValidSpec(const std::string& name) {
  v1::StudySpec spec;
  spec.set_name(name);
  spec.mutable_objective()->set_metric("loss");
  spec.mutable_objective()->set_goal(v1::ObjectiveSpec::MINIMIZE);
  spec.mutable_algorithm()->set_name("random");
  v1::ParameterSpec& x = *spec.add_parameters();
  x.set_name("x");
  x.set_type(v1::ParameterSpec::DOUBLE);
  x.set_min(0);
  x.set_max(1);
  spec.mutable_trials()->set_max(3);
  spec.mutable_worker()->set_kind(v1::WorkerSpec::NONE);
  return spec;
}

class StudyServiceTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    StartServer();
    study_ = StudyStub();
    trial_ = TrialStub();
  }

  v1::Study CreateFromSpec(const std::string& name) {
    v1::CreateStudyRequest request;
    *request.mutable_spec() = ValidSpec(name);
    v1::Study study;
    const grpc::Status status =
        study_->CreateStudy(Context().get(), request, &study);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return study;
  }

  // Trials handed to client "c1" by an ask/tell study called `study`.
  std::vector<v1::Trial> Suggest(const std::string& study, int count) {
    v1::SuggestTrialsRequest request;
    request.set_study(study);
    request.set_count(count);
    request.set_client_id("c1");
    v1::SuggestTrialsResponse response;
    const grpc::Status status =
        study_->SuggestTrials(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.trials().begin(), response.trials().end()};
  }

  std::unique_ptr<v1::StudyService::Stub> study_;
  std::unique_ptr<v1::TrialService::Stub> trial_;
};

TEST_F(StudyServiceTest, CreateStudyFromYamlStoresTheStudyAndItsText) {
  v1::CreateStudyRequest request;
  request.set_yaml(kStudyYaml);
  request.set_base_dir(dir_.path());
  v1::Study created;
  ASSERT_TRUE(study_->CreateStudy(Context().get(), request, &created).ok());
  EXPECT_EQ(created.name(), "demo");
  EXPECT_EQ(created.state(), v1::Study::ACTIVE);

  v1::GetStudyRequest get;
  get.set_name("demo");
  v1::Study read;
  ASSERT_TRUE(study_->GetStudy(Context().get(), get, &read).ok());
  EXPECT_EQ(read.id(), created.id());
  EXPECT_EQ(read.yaml(), kStudyYaml);
  // A relative working_dir is resolved against the client's base_dir.
  EXPECT_EQ(read.spec().worker().working_dir(), dir_.path());
}

TEST_F(StudyServiceTest, CreateStudyFromSpec) {
  const v1::Study study = CreateFromSpec("from-spec");
  EXPECT_EQ(study.name(), "from-spec");
  EXPECT_GT(study.id(), 0);
  EXPECT_EQ(study.spec().worker().kind(), v1::WorkerSpec::NONE);
}

TEST_F(StudyServiceTest, BadYamlIsInvalidArgumentListingEveryProblemByLine) {
  v1::CreateStudyRequest request;
  request.set_yaml(R"(name: demo
objective: {metric: loss, goal: minimize}
parameters:
  - {name: x, type: double, min: 2, max: 1}
trials: {max: 0}
worker:
  command: [python3, train.py]
)");
  request.set_base_dir(dir_.path());
  v1::Study study;
  const grpc::Status status =
      study_->CreateStudy(Context().get(), request, &study);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("4:"));
  EXPECT_THAT(status.error_message(), HasSubstr("parameters[0]"));
  EXPECT_THAT(status.error_message(), HasSubstr("5:"));
  EXPECT_THAT(status.error_message(), HasSubstr("trials.max"));
  EXPECT_THAT(status.error_message(), HasSubstr("\n"));

  v1::ListStudiesResponse listed;
  ASSERT_TRUE(study_->ListStudies(Context().get(), {}, &listed).ok());
  EXPECT_THAT(listed.studies(), SizeIs(0));
}

TEST_F(StudyServiceTest, InvalidSpecNamesTheFieldUnderSpec) {
  v1::CreateStudyRequest request;
  *request.mutable_spec() = ValidSpec("bad");
  request.mutable_spec()->mutable_trials()->set_max(0);
  v1::Study study;
  const grpc::Status status =
      study_->CreateStudy(Context().get(), request, &study);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("spec.trials.max"));
}

TEST_F(StudyServiceTest, CreateStudyWithoutSourceIsInvalidArgument) {
  v1::Study study;
  const grpc::Status status = study_->CreateStudy(Context().get(), {}, &study);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "source: give spec or yaml");
}

TEST_F(StudyServiceTest, RelativeBaseDirIsInvalidArgument) {
  v1::CreateStudyRequest request;
  request.set_yaml(kStudyYaml);
  request.set_base_dir("some/dir");
  v1::Study study;
  const grpc::Status status =
      study_->CreateStudy(Context().get(), request, &study);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("base_dir"));
}

TEST_F(StudyServiceTest, SecondCreateIsAlreadyExistsUnlessResuming) {
  const v1::Study first = CreateFromSpec("twice");
  v1::CreateStudyRequest request;
  *request.mutable_spec() = ValidSpec("twice");
  v1::Study study;
  EXPECT_EQ(study_->CreateStudy(Context().get(), request, &study).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  request.set_resume_existing(true);
  ASSERT_TRUE(study_->CreateStudy(Context().get(), request, &study).ok());
  EXPECT_EQ(study.id(), first.id());
}

TEST_F(StudyServiceTest, GetStudyOfUnknownNameIsNotFound) {
  v1::GetStudyRequest request;
  request.set_name("nobody");
  v1::Study study;
  EXPECT_EQ(study_->GetStudy(Context().get(), request, &study).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.clear_name();
  EXPECT_EQ(study_->GetStudy(Context().get(), request, &study).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(StudyServiceTest, ListStudiesListsEveryStudy) {
  CreateFromSpec("one");
  CreateFromSpec("two");
  v1::ListStudiesResponse response;
  ASSERT_TRUE(study_->ListStudies(Context().get(), {}, &response).ok());
  ASSERT_THAT(response.studies(), SizeIs(2));
  EXPECT_EQ(response.studies(0).name(), "one");
  EXPECT_EQ(response.studies(1).name(), "two");
}

TEST_F(StudyServiceTest, StopStudyStopsItAndUnknownIsNotFound) {
  CreateFromSpec("to-stop");
  v1::StopStudyRequest request;
  request.set_name("to-stop");
  v1::Study study;
  ASSERT_TRUE(study_->StopStudy(Context().get(), request, &study).ok());
  EXPECT_EQ(study.state(), v1::Study::STOPPED);
  EXPECT_EQ(study.end_reason(), v1::Study::USER_STOPPED);

  request.set_name("nobody");
  EXPECT_EQ(study_->StopStudy(Context().get(), request, &study).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(StudyServiceTest, SuggestTrialsHandsOutTrialsToTheClient) {
  CreateFromSpec("ask");
  const std::vector<v1::Trial> trials = Suggest("ask", 3);
  ASSERT_THAT(trials, SizeIs(3));
  for (const v1::Trial& trial : trials) {
    EXPECT_EQ(trial.client_id(), "c1");
    EXPECT_GT(trial.id(), 0);
    EXPECT_TRUE(trial.parameters().contains("x"));
  }
}

TEST_F(StudyServiceTest, SuggestTrialsRefusesBadRequests) {
  CreateFromSpec("ask");
  v1::SuggestTrialsRequest request;
  request.set_study("ask");
  request.set_client_id("c1");
  v1::SuggestTrialsResponse response;
  for (int count : {0, -1, kMaxSuggestCount + 1}) {
    request.set_count(count);
    const grpc::Status status =
        study_->SuggestTrials(Context().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << count;
    EXPECT_THAT(status.error_message(), HasSubstr("count"));
  }
  request.set_count(1);
  request.clear_client_id();
  grpc::Status status =
      study_->SuggestTrials(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("client_id"));

  request.set_client_id("c1");
  request.set_study("nobody");
  status = study_->SuggestTrials(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(StudyServiceTest, CompleteTrialRecordsTheResultOnce) {
  CreateFromSpec("ask");
  const std::vector<v1::Trial> trials = Suggest("ask", 2);
  ASSERT_THAT(trials, SizeIs(2));

  v1::CompleteTrialRequest request;
  request.set_study("ask");
  request.set_trial_id(trials[0].id());
  (*request.mutable_metrics())["loss"] = 0.5;
  v1::Trial completed;
  ASSERT_TRUE(study_->CompleteTrial(Context().get(), request, &completed).ok());
  EXPECT_EQ(completed.state(), v1::Trial::SUCCEEDED);
  EXPECT_EQ(completed.final_metrics().at("loss"), 0.5);

  const grpc::Status again =
      study_->CompleteTrial(Context().get(), request, &completed);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::CompleteTrialRequest infeasible;
  infeasible.set_study("ask");
  infeasible.set_trial_id(trials[1].id());
  infeasible.set_infeasible(true);
  infeasible.set_infeasible_reason("diverged");
  ASSERT_TRUE(
      study_->CompleteTrial(Context().get(), infeasible, &completed).ok());
  EXPECT_EQ(completed.state(), v1::Trial::INFEASIBLE);
}

TEST_F(StudyServiceTest, CompleteTrialWithoutMetricsIsInvalidArgument) {
  v1::CompleteTrialRequest request;
  request.set_study("ask");
  request.set_trial_id(1);
  v1::Trial trial;
  const grpc::Status status =
      study_->CompleteTrial(Context().get(), request, &trial);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("metrics"));
}

TEST_F(StudyServiceTest, ListTrialsWithAndWithoutMeasurements) {
  CreateFromSpec("ask");
  const std::vector<v1::Trial> trials = Suggest("ask", 2);
  ASSERT_THAT(trials, SizeIs(2));
  manager_->SetTrialToken(trials[0].id(), "t0");
  v1::ReportMeasurementRequest report;
  report.set_trial_id(trials[0].id());
  v1::Measurement* measurement = report.add_measurements();
  measurement->set_step(3);
  (*measurement->mutable_metrics())["loss"] = 0.7;
  v1::ReportMeasurementResponse reported;
  ASSERT_TRUE(
      trial_->ReportMeasurement(Context("t0").get(), report, &reported).ok());

  v1::ListTrialsRequest request;
  request.set_study("ask");
  v1::ListTrialsResponse response;
  ASSERT_TRUE(study_->ListTrials(Context().get(), request, &response).ok());
  ASSERT_THAT(response.trials(), SizeIs(2));
  EXPECT_EQ(response.trials(0).number(), 1);
  EXPECT_THAT(response.trials(0).measurements(), SizeIs(0));

  request.set_include_measurements(true);
  ASSERT_TRUE(study_->ListTrials(Context().get(), request, &response).ok());
  ASSERT_THAT(response.trials(), SizeIs(2));
  ASSERT_THAT(response.trials(0).measurements(), SizeIs(1));
  EXPECT_EQ(response.trials(0).measurements(0).step(), 3);
  EXPECT_EQ(response.trials(0).measurements(0).metrics().at("loss"), 0.7);
  EXPECT_THAT(response.trials(1).measurements(), SizeIs(0));

  request.set_study("nobody");
  EXPECT_EQ(
      study_->ListTrials(Context().get(), request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

class TrialServiceTest : public StudyServiceTest {
 protected:
  void SetUp() override {
    StudyServiceTest::SetUp();
    CreateFromSpec("trials");
    const std::vector<v1::Trial> trials = Suggest("trials", 1);
    ASSERT_THAT(trials, SizeIs(1));
    trial_id_ = trials[0].id();
    manager_->SetTrialToken(trial_id_, "secret");
  }

  grpc::Status Report(absl::string_view token, int64_t step,
                      std::map<std::string, double> metrics,
                      v1::ReportMeasurementResponse* response) {
    v1::ReportMeasurementRequest request;
    request.set_trial_id(trial_id_);
    v1::Measurement* measurement = request.add_measurements();
    measurement->set_step(step);
    measurement->mutable_metrics()->insert(metrics.begin(), metrics.end());
    return trial_->ReportMeasurement(Context(token).get(), request, response);
  }

  int64_t trial_id_ = 0;
};

TEST_F(TrialServiceTest, GetTrialWithItsTokenGivesItsParametersAndSpecs) {
  v1::GetTrialRequest request;
  request.set_trial_id(trial_id_);
  v1::GetTrialResponse response;
  ASSERT_TRUE(
      trial_->GetTrial(Context("secret").get(), request, &response).ok());
  EXPECT_EQ(response.trial().id(), trial_id_);
  EXPECT_EQ(response.trial().parameters().at("x").number_value(), 0.25);
  ASSERT_THAT(response.parameters(), SizeIs(1));
  EXPECT_EQ(response.parameters(0).name(), "x");
  EXPECT_EQ(response.parameters(0).type(), v1::ParameterSpec::DOUBLE);
}

TEST_F(TrialServiceTest, CallsWithoutTheRightTokenAreRefused) {
  v1::GetTrialRequest request;
  request.set_trial_id(trial_id_);
  v1::GetTrialResponse trial;
  grpc::Status status = trial_->GetTrial(Context().get(), request, &trial);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "missing trial token");
  status = trial_->GetTrial(Context("guess").get(), request, &trial);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  v1::ReportMeasurementResponse reported;
  status = Report("", 1, {{"loss", 1.0}}, &reported);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "missing trial token");

  v1::FinishTrialRequest finish;
  finish.set_trial_id(trial_id_);
  v1::FinishTrialResponse finished;
  status = trial_->FinishTrial(Context().get(), finish, &finished);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(TrialServiceTest, UnknownTrialIsNotFound) {
  v1::GetTrialRequest request;
  request.set_trial_id(trial_id_ + 1000);
  v1::GetTrialResponse trial;
  EXPECT_EQ(
      trial_->GetTrial(Context("secret").get(), request, &trial).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(TrialServiceTest, ReportMeasurementStoresItAndAnswersShouldStop) {
  v1::ReportMeasurementResponse response;
  ASSERT_TRUE(Report("secret", 1, {{"loss", 0.9}}, &response).ok());
  EXPECT_FALSE(response.should_stop());
  ASSERT_TRUE(Report("secret", testing::FakeStudyManager::kStopStep,
                     {{"loss", 0.8}}, &response)
                  .ok());
  EXPECT_TRUE(response.should_stop());

  v1::ListTrialsRequest list;
  list.set_study("trials");
  list.set_include_measurements(true);
  v1::ListTrialsResponse listed;
  ASSERT_TRUE(study_->ListTrials(Context().get(), list, &listed).ok());
  ASSERT_THAT(listed.trials(), SizeIs(1));
  std::vector<int64_t> steps;
  for (const v1::Measurement& m : listed.trials(0).measurements()) {
    steps.push_back(m.step());
  }
  EXPECT_THAT(steps, ElementsAre(1, testing::FakeStudyManager::kStopStep));
}

TEST_F(TrialServiceTest, ConcurrentReportsAndReadsAreEachServed) {
  // The server under load, as ThreadSanitizer sees it (scripts/sanitizers.sh
  // runs this binary): clients reporting at once while another lists.
  constexpr int kClients = 4;
  constexpr int kReportsEach = 50;
  std::atomic<int> failed = 0;
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([this, c, &failed] {
      for (int i = 1; i <= kReportsEach; ++i) {
        v1::ReportMeasurementResponse response;
        if (!Report("secret", c * kReportsEach + i, {{"loss", 0.5}}, &response)
                 .ok()) {
          ++failed;
        }
      }
    });
  }
  v1::ListTrialsRequest list;
  list.set_study("trials");
  list.set_include_measurements(true);
  threads.emplace_back([this, &list, &failed] {
    for (int i = 0; i < kReportsEach; ++i) {
      v1::ListTrialsResponse listed;
      if (!study_->ListTrials(Context().get(), list, &listed).ok()) ++failed;
    }
  });
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed, 0);

  v1::ListTrialsResponse listed;
  ASSERT_TRUE(study_->ListTrials(Context().get(), list, &listed).ok());
  ASSERT_THAT(listed.trials(), SizeIs(1));
  std::vector<int64_t> steps;
  for (const v1::Measurement& m : listed.trials(0).measurements()) {
    steps.push_back(m.step());
  }
  std::sort(steps.begin(), steps.end());
  ASSERT_EQ(steps.size(), static_cast<size_t>(kClients * kReportsEach));
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], i + 1);
}

TEST_F(TrialServiceTest, NonFiniteValuesAreAccepted) {
  v1::ReportMeasurementResponse response;
  EXPECT_TRUE(Report("secret", 2,
                     {{"loss", std::numeric_limits<double>::quiet_NaN()},
                      {"grad", std::numeric_limits<double>::infinity()}},
                     &response)
                  .ok());
}

TEST_F(TrialServiceTest, MalformedMeasurementsAreInvalidArgument) {
  v1::ReportMeasurementResponse response;
  grpc::Status status = Report("secret", -1, {{"loss", 1.0}}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("measurements[0].step"));

  status = Report("secret", 1, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("measurements[0].metrics"));

  status = Report("secret", 1, {{"", 1.0}}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("metric name"));

  v1::ReportMeasurementRequest no_measurement;
  no_measurement.set_trial_id(trial_id_);
  status = trial_->ReportMeasurement(Context("secret").get(), no_measurement,
                                     &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(TrialServiceTest, FinishTrialRecordsTheFinalMetrics) {
  v1::FinishTrialRequest request;
  request.set_trial_id(trial_id_);
  (*request.mutable_metrics())["loss"] = 0.125;
  v1::FinishTrialResponse response;
  ASSERT_TRUE(
      trial_->FinishTrial(Context("secret").get(), request, &response).ok());

  v1::GetTrialRequest get;
  get.set_trial_id(trial_id_);
  v1::GetTrialResponse got;
  ASSERT_TRUE(trial_->GetTrial(Context("secret").get(), get, &got).ok());
  EXPECT_EQ(got.trial().state(), v1::Trial::SUCCEEDED);
  EXPECT_EQ(got.trial().final_metrics().at("loss"), 0.125);

  EXPECT_EQ(trial_->FinishTrial(Context("secret").get(), request, &response)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

class MeasurementStreamTest : public TrialServiceTest {
 protected:
  using Stream = grpc::ClientReaderWriter<v1::ReportMeasurementRequest,
                                          v1::StreamMeasurementsResponse>;

  // A request for `trial_id` of one measurement per step, metric "loss".
  static v1::ReportMeasurementRequest Request(int64_t trial_id,
                                              std::vector<int64_t> steps) {
    v1::ReportMeasurementRequest request;
    request.set_trial_id(trial_id);
    for (int64_t step : steps) {
      v1::Measurement* measurement = request.add_measurements();
      measurement->set_step(step);
      (*measurement->mutable_metrics())["loss"] = 1.0 / (step + 1);
    }
    return request;
  }

  // Reads answers until one acknowledges `count` requests; the last answer.
  static v1::StreamMeasurementsResponse AwaitAcknowledged(Stream& stream,
                                                          int64_t count) {
    v1::StreamMeasurementsResponse response;
    while (response.acknowledged() < count && stream.Read(&response)) {
    }
    return response;
  }

  std::vector<int64_t> StoredSteps() {
    v1::ListTrialsRequest list;
    list.set_study("trials");
    list.set_include_measurements(true);
    v1::ListTrialsResponse listed;
    EXPECT_TRUE(study_->ListTrials(Context().get(), list, &listed).ok());
    std::vector<int64_t> steps;
    for (const v1::Trial& trial : listed.trials()) {
      for (const v1::Measurement& m : trial.measurements()) {
        steps.push_back(m.step());
      }
    }
    std::sort(steps.begin(), steps.end());
    return steps;
  }
};

TEST_F(MeasurementStreamTest, AcknowledgesRequestsCumulativelyOnceStored) {
  std::unique_ptr<grpc::ClientContext> context = Context("secret");
  std::unique_ptr<Stream> stream = trial_->StreamMeasurements(context.get());
  ASSERT_TRUE(stream->Write(Request(trial_id_, {1})));
  ASSERT_TRUE(stream->Write(Request(trial_id_, {2, 3})));
  ASSERT_TRUE(stream->Write(Request(trial_id_, {4})));
  v1::StreamMeasurementsResponse response = AwaitAcknowledged(*stream, 3);
  EXPECT_EQ(response.acknowledged(), 3);
  EXPECT_FALSE(response.should_stop());
  EXPECT_THAT(StoredSteps(), ElementsAre(1, 2, 3, 4));

  // A repeat is idempotent; a stop answer sticks.
  ASSERT_TRUE(stream->Write(Request(trial_id_, {4})));
  ASSERT_TRUE(stream->Write(
      Request(trial_id_, {testing::FakeStudyManager::kStopStep})));
  response = AwaitAcknowledged(*stream, 5);
  EXPECT_EQ(response.acknowledged(), 5);
  EXPECT_TRUE(response.should_stop());
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(StoredSteps(),
              ElementsAre(1, 2, 3, 4, testing::FakeStudyManager::kStopStep));
}

TEST_F(MeasurementStreamTest, ManyRequestsInFlightAreAllStored) {
  // More than MeasurementStream::kMaxUnstoredRequests written before any
  // answer is read: the server pauses reading and resumes.
  constexpr int kRequests = 3 * MeasurementStream::kMaxUnstoredRequests;
  std::unique_ptr<grpc::ClientContext> context = Context("secret");
  std::unique_ptr<Stream> stream = trial_->StreamMeasurements(context.get());
  for (int i = 1; i <= kRequests; ++i) {
    ASSERT_TRUE(stream->Write(Request(trial_id_, {i})));
  }
  ASSERT_TRUE(stream->WritesDone());
  v1::StreamMeasurementsResponse response;
  int64_t last = 0;
  while (stream->Read(&response)) {
    EXPECT_GT(response.acknowledged(), last);  // only ever forward
    last = response.acknowledged();
  }
  EXPECT_EQ(last, kRequests);
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_THAT(StoredSteps(), SizeIs(kRequests));
}

TEST_F(MeasurementStreamTest, WithoutTheRightTokenNothingIsStored) {
  std::unique_ptr<grpc::ClientContext> context = Context("");
  std::unique_ptr<Stream> stream = trial_->StreamMeasurements(context.get());
  stream->Write(Request(trial_id_, {1}));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "missing trial token");

  context = Context("guess");
  stream = trial_->StreamMeasurements(context.get());
  ASSERT_TRUE(stream->Write(Request(trial_id_, {2})));
  status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(StoredSteps(), SizeIs(0));
}

TEST_F(MeasurementStreamTest, AMalformedRequestEndsTheStreamAfterTheGoodOnes) {
  std::unique_ptr<grpc::ClientContext> context = Context("secret");
  std::unique_ptr<Stream> stream = trial_->StreamMeasurements(context.get());
  ASSERT_TRUE(stream->Write(Request(trial_id_, {1})));
  ASSERT_EQ(AwaitAcknowledged(*stream, 1).acknowledged(), 1);
  stream->Write(Request(trial_id_, {-1}));
  stream->Write(Request(trial_id_, {2}));  // after the failure: dropped
  v1::StreamMeasurementsResponse response;
  while (stream->Read(&response)) {
  }
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("measurements[0].step"));
  EXPECT_THAT(StoredSteps(), ElementsAre(1));
}

TEST_F(MeasurementStreamTest, ARefusedRequestEndsAStreamStillOpen) {
  // The manager refuses (an unknown trial) while the server waits for the
  // client's next request: the stream ends without the client closing it.
  std::unique_ptr<grpc::ClientContext> context = Context("secret");
  std::unique_ptr<Stream> stream = trial_->StreamMeasurements(context.get());
  ASSERT_TRUE(stream->Write(Request(trial_id_, {1})));
  ASSERT_TRUE(stream->Write(Request(trial_id_ + 1000, {2})));
  v1::StreamMeasurementsResponse response;
  int64_t acknowledged = 0;
  while (stream->Read(&response)) acknowledged = response.acknowledged();
  EXPECT_EQ(acknowledged, 1);
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(StoredSteps(), ElementsAre(1));
}

constexpr char kAdminToken[] = "admin-secret";

class AdminTokenTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    GrpcServerOptions options;
    options.admin_token = kAdminToken;
    StartServer(options);
    study_ = StudyStub();
  }

  // The code of every StudyService call made with `token`.
  std::vector<grpc::StatusCode> CallEveryMethod(absl::string_view token) {
    std::vector<grpc::StatusCode> codes;
    v1::CreateStudyRequest create;
    *create.mutable_spec() = ValidSpec("guarded");
    create.set_resume_existing(true);
    v1::Study study;
    codes.push_back(
        study_->CreateStudy(Context(token).get(), create, &study).error_code());
    v1::GetStudyRequest get;
    get.set_name("guarded");
    codes.push_back(
        study_->GetStudy(Context(token).get(), get, &study).error_code());
    v1::ListStudiesResponse studies;
    codes.push_back(
        study_->ListStudies(Context(token).get(), {}, &studies).error_code());
    v1::ListTrialsRequest list;
    list.set_study("guarded");
    v1::ListTrialsResponse trials;
    codes.push_back(
        study_->ListTrials(Context(token).get(), list, &trials).error_code());
    v1::SuggestTrialsRequest suggest;
    suggest.set_study("guarded");
    suggest.set_count(1);
    suggest.set_client_id("c");
    v1::SuggestTrialsResponse suggested;
    codes.push_back(
        study_->SuggestTrials(Context(token).get(), suggest, &suggested)
            .error_code());
    v1::CompleteTrialRequest complete;
    complete.set_study("guarded");
    complete.set_trial_id(
        suggested.trials().empty() ? 1 : suggested.trials(0).id());
    (*complete.mutable_metrics())["loss"] = 1;
    v1::Trial trial;
    codes.push_back(
        study_->CompleteTrial(Context(token).get(), complete, &trial)
            .error_code());
    v1::StopStudyRequest stop;
    stop.set_name("guarded");
    codes.push_back(
        study_->StopStudy(Context(token).get(), stop, &study).error_code());
    return codes;
  }

  std::unique_ptr<v1::StudyService::Stub> study_;
};

TEST_F(AdminTokenTest, EveryStudyCallWithoutTheTokenIsPermissionDenied) {
  const std::vector<grpc::StatusCode> codes = CallEveryMethod("");
  ASSERT_THAT(codes, SizeIs(7));
  for (grpc::StatusCode code : codes) {
    EXPECT_EQ(code, grpc::StatusCode::PERMISSION_DENIED);
  }
  v1::ListStudiesResponse studies;
  const grpc::Status status =
      study_->ListStudies(Context().get(), {}, &studies);
  EXPECT_EQ(status.error_message(), "missing admin token");
}

TEST_F(AdminTokenTest, EveryStudyCallWithAWrongTokenIsPermissionDenied) {
  for (grpc::StatusCode code : CallEveryMethod("admin-secreT")) {
    EXPECT_EQ(code, grpc::StatusCode::PERMISSION_DENIED);
  }
  v1::ListStudiesResponse studies;
  const grpc::Status status =
      study_->ListStudies(Context("admin").get(), {}, &studies);
  EXPECT_EQ(status.error_message(), "wrong admin token");
}

TEST_F(AdminTokenTest, EveryStudyCallWithTheTokenIsServed) {
  for (grpc::StatusCode code : CallEveryMethod(kAdminToken)) {
    EXPECT_EQ(code, grpc::StatusCode::OK);
  }
}

TEST_F(AdminTokenTest, TrialCallsNeedOnlyTheTrialToken) {
  v1::CreateStudyRequest create;
  *create.mutable_spec() = ValidSpec("guarded");
  v1::Study study;
  ASSERT_TRUE(
      study_->CreateStudy(Context(kAdminToken).get(), create, &study).ok());
  v1::SuggestTrialsRequest suggest;
  suggest.set_study("guarded");
  suggest.set_count(1);
  suggest.set_client_id("c");
  v1::SuggestTrialsResponse suggested;
  ASSERT_TRUE(
      study_->SuggestTrials(Context(kAdminToken).get(), suggest, &suggested)
          .ok());
  ASSERT_THAT(suggested.trials(), SizeIs(1));
  manager_->SetTrialToken(suggested.trials(0).id(), "trial-token");

  v1::GetTrialRequest get;
  get.set_trial_id(suggested.trials(0).id());
  v1::GetTrialResponse trial;
  EXPECT_TRUE(
      TrialStub()->GetTrial(Context("trial-token").get(), get, &trial).ok());
}

}  // namespace
}  // namespace vernier::server
