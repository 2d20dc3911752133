#include "trial-runner/client/cpp/client.h"

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"

namespace vernier::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr int64_t kTrialId = 42;
constexpr char kToken[] = "s3cret";

// What the fake saw of one call.
struct Call {
  std::string authorization;
  int64_t trial_id = 0;
  int64_t step = 0;
  std::map<std::string, double> metrics;
};

void AddSpec(google::protobuf::RepeatedPtrField<v1::ParameterSpec>& specs,
             const std::string& name, v1::ParameterSpec::Type type) {
  v1::ParameterSpec* spec = specs.Add();
  spec->set_name(name);
  spec->set_type(type);
}

// An in-memory TrialService for one trial. Thread ownership: gRPC's server
// threads call the handlers; the test thread configures and inspects it; all
// state is guarded by mu_.
class FakeTrialService final : public v1::TrialService::Service {
 public:
  FakeTrialService() {
    trial_.set_id(kTrialId);
    trial_.set_number(3);
    auto& params = *trial_.mutable_parameters();
    params["lr"].set_number_value(0.01);
    params["layers"].set_number_value(4);
    params["kernel"].set_string_value("rbf");
    AddSpec(specs_, "lr", v1::ParameterSpec::DOUBLE);
    AddSpec(specs_, "layers", v1::ParameterSpec::INT);
    AddSpec(specs_, "kernel", v1::ParameterSpec::CATEGORICAL);
  }

  void set_token(std::string token) {
    absl::MutexLock lock(&mu_);
    token_ = std::move(token);
  }
  void set_should_stop(bool should_stop) {
    absl::MutexLock lock(&mu_);
    should_stop_ = should_stop;
  }
  // The next `count` calls to ReportMeasurement fail with `status` before
  // doing anything.
  void FailReports(int count, grpc::Status status) {
    absl::MutexLock lock(&mu_);
    report_failures_ = count;
    report_failure_ = std::move(status);
  }
  // The next `count` calls to ReportMeasurement store the measurement but
  // answer only after `delay`.
  void DelayReports(int count, absl::Duration delay) {
    absl::MutexLock lock(&mu_);
    report_delays_ = count;
    report_delay_ = delay;
  }
  // Adds a parameter to the trial and, unless `type` is TYPE_UNSPECIFIED,
  // its spec to the study's.
  void AddParameter(const std::string& name, google::protobuf::Value value,
                    v1::ParameterSpec::Type type) {
    absl::MutexLock lock(&mu_);
    (*trial_.mutable_parameters())[name] = std::move(value);
    if (type != v1::ParameterSpec::TYPE_UNSPECIFIED)
      AddSpec(specs_, name, type);
  }

  std::vector<Call> reports() const {
    absl::MutexLock lock(&mu_);
    return reports_;
  }
  std::vector<Call> finishes() const {
    absl::MutexLock lock(&mu_);
    return finishes_;
  }
  // Every measurement stored, by step and metric: what a retry must not
  // duplicate.
  std::map<int64_t, std::map<std::string, double>> stored() const {
    absl::MutexLock lock(&mu_);
    return stored_;
  }

  grpc::Status GetTrial(grpc::ServerContext* context,
                        const v1::GetTrialRequest* request,
                        v1::GetTrialResponse* response) override {
    absl::MutexLock lock(&mu_);
    if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
    if (request->trial_id() != kTrialId) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such trial");
    }
    *response->mutable_trial() = trial_;
    *response->mutable_parameters() = specs_;
    return grpc::Status::OK;
  }

  grpc::Status ReportMeasurement(
      grpc::ServerContext* context, const v1::ReportMeasurementRequest* request,
      v1::ReportMeasurementResponse* response) override {
    absl::Duration delay;
    {
      absl::MutexLock lock(&mu_);
      Call call = Record(*context, request->trial_id());
      if (request->measurements_size() != 1) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the client sends one measurement per report");
      }
      const v1::Measurement& measurement = request->measurements(0);
      call.step = measurement.step();
      call.metrics = {measurement.metrics().begin(),
                      measurement.metrics().end()};
      reports_.push_back(call);
      if (report_failures_ > 0) {
        --report_failures_;
        return report_failure_;
      }
      if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
      for (const auto& [name, value] : call.metrics) {
        stored_[call.step][name] = value;
      }
      response->set_should_stop(should_stop_);
      if (report_delays_ > 0) {
        --report_delays_;
        delay = report_delay_;
      }
    }
    absl::SleepFor(delay);
    return grpc::Status::OK;
  }

  // The next `count` StreamMeasurements calls each store their first
  // request and then end with `status` without acknowledging it (an answer
  // lost with the connection), so the client must resend it.
  void FailStreams(int count, grpc::Status status) {
    absl::MutexLock lock(&mu_);
    stream_failures_ = count;
    stream_failure_ = std::move(status);
  }
  int streams() const {
    absl::MutexLock lock(&mu_);
    return streams_;
  }
  // Requests received over streams, each with its measurements' steps.
  std::vector<std::vector<int64_t>> stream_requests() const {
    absl::MutexLock lock(&mu_);
    return stream_requests_;
  }

  grpc::Status StreamMeasurements(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::StreamMeasurementsResponse,
                               v1::ReportMeasurementRequest>* stream) override {
    {
      absl::MutexLock lock(&mu_);
      ++streams_;
      if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
    }
    v1::ReportMeasurementRequest request;
    int64_t acknowledged = 0;
    while (stream->Read(&request)) {
      v1::StreamMeasurementsResponse response;
      {
        absl::MutexLock lock(&mu_);
        if (request.trial_id() != kTrialId) {
          return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such trial");
        }
        std::vector<int64_t> steps;
        for (const v1::Measurement& m : request.measurements()) {
          steps.push_back(m.step());
          for (const auto& [name, value] : m.metrics()) {
            stored_[m.step()][name] = value;
          }
        }
        stream_requests_.push_back(std::move(steps));
        if (stream_failures_ > 0) {
          --stream_failures_;
          return stream_failure_;
        }
        response.set_acknowledged(++acknowledged);
        response.set_should_stop(should_stop_);
      }
      if (!stream->Write(response)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status FinishTrial(grpc::ServerContext* context,
                           const v1::FinishTrialRequest* request,
                           v1::FinishTrialResponse*) override {
    absl::MutexLock lock(&mu_);
    Call call = Record(*context, request->trial_id());
    call.metrics = {request->metrics().begin(), request->metrics().end()};
    finishes_.push_back(call);
    return Authorize(*context);
  }

 private:
  static std::string Authorization(const grpc::ServerContext& context) {
    auto it = context.client_metadata().find("authorization");
    if (it == context.client_metadata().end()) return "";
    return std::string(it->second.data(), it->second.size());
  }

  Call Record(const grpc::ServerContext& context, int64_t trial_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Call call;
    call.authorization = Authorization(context);
    call.trial_id = trial_id;
    return call;
  }

  grpc::Status Authorize(const grpc::ServerContext& context) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (Authorization(context) != absl::StrCat("Bearer ", token_)) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "the token does not match the trial");
    }
    return grpc::Status::OK;
  }

  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_) = kToken;
  v1::Trial trial_ ABSL_GUARDED_BY(mu_);
  google::protobuf::RepeatedPtrField<v1::ParameterSpec> specs_
      ABSL_GUARDED_BY(mu_);
  bool should_stop_ ABSL_GUARDED_BY(mu_) = false;
  int report_failures_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Status report_failure_ ABSL_GUARDED_BY(mu_);
  int report_delays_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration report_delay_ ABSL_GUARDED_BY(mu_);
  int stream_failures_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Status stream_failure_ ABSL_GUARDED_BY(mu_);
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::vector<int64_t>> stream_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> reports_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> finishes_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::map<std::string, double>> stored_ ABSL_GUARDED_BY(mu_);
};

// Short waits so that retries keep the tests fast.
TrialOptions FastOptions() {
  TrialOptions options;
  options.call_timeout = absl::Seconds(5);
  options.max_attempts = 3;
  options.initial_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(20);
  return options;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    endpoint_ = absl::StrCat("127.0.0.1:", port);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  std::unique_ptr<Trial> ConnectOrDie(TrialOptions options = FastOptions()) {
    absl::StatusOr<std::unique_ptr<Trial>> trial =
        Trial::Connect(endpoint_, kTrialId, kToken, options);
    EXPECT_TRUE(trial.ok()) << trial.status();
    return trial.ok() ? *std::move(trial) : nullptr;
  }

  FakeTrialService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string endpoint_;
};

EnvLookup MapLookup(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::map<std::string, std::string> FullEnvironment() {
  return {{"VERNIER_ENDPOINT", "127.0.0.1:7007"},
          {"VERNIER_TRIAL_ID", "42"},
          {"VERNIER_TOKEN", "tok"},
          {"VERNIER_TLS_CA", "/etc/vernier/ca.pem"}};
}

TEST(ReadWorkerEnvironmentTest, ReadsEveryVariable) {
  absl::StatusOr<WorkerEnvironment> env =
      ReadWorkerEnvironment(MapLookup(FullEnvironment()));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->endpoint, "127.0.0.1:7007");
  EXPECT_EQ(env->trial_id, 42);
  EXPECT_EQ(env->token, "tok");
  EXPECT_EQ(env->tls_ca_path, "/etc/vernier/ca.pem");
}

TEST(ReadWorkerEnvironmentTest, TlsCaIsOptional) {
  std::map<std::string, std::string> vars = FullEnvironment();
  vars.erase("VERNIER_TLS_CA");
  absl::StatusOr<WorkerEnvironment> env =
      ReadWorkerEnvironment(MapLookup(vars));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->tls_ca_path, "");
}

TEST(ReadWorkerEnvironmentTest, NamesTheMissingOrEmptyVariable) {
  for (const char* name :
       {"VERNIER_ENDPOINT", "VERNIER_TRIAL_ID", "VERNIER_TOKEN"}) {
    std::map<std::string, std::string> vars = FullEnvironment();
    vars.erase(name);
    absl::StatusOr<WorkerEnvironment> env =
        ReadWorkerEnvironment(MapLookup(vars));
    EXPECT_EQ(env.status().code(), absl::StatusCode::kFailedPrecondition)
        << name;
    EXPECT_THAT(env.status().message(), HasSubstr(name));

    vars[name] = "";
    env = ReadWorkerEnvironment(MapLookup(vars));
    EXPECT_EQ(env.status().code(), absl::StatusCode::kFailedPrecondition)
        << name;
    EXPECT_THAT(env.status().message(), HasSubstr(name));
  }
}

TEST(ReadWorkerEnvironmentTest, RejectsATrialIdThatIsNotAPositiveInteger) {
  for (const char* bad : {"abc", "4.2", "-3", "0", "12x"}) {
    std::map<std::string, std::string> vars = FullEnvironment();
    vars["VERNIER_TRIAL_ID"] = bad;
    absl::StatusOr<WorkerEnvironment> env =
        ReadWorkerEnvironment(MapLookup(vars));
    EXPECT_EQ(env.status().code(), absl::StatusCode::kFailedPrecondition)
        << bad;
    EXPECT_THAT(env.status().message(), HasSubstr("VERNIER_TRIAL_ID"));
    EXPECT_THAT(env.status().message(), HasSubstr(bad));
  }
}

TEST(FromGrpcStatusTest, KeepsTheCodeAndTheMessage) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "X.Y").ok());
  absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "bad token"),
      "TrialService.GetTrial");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(), "TrialService.GetTrial: bad token");
}

// The only test that touches the process environment; each test runs in its
// own process under CTest.
TEST_F(ClientTest, FromEnvironmentConnectsToTheTrialItNames) {
  setenv("VERNIER_ENDPOINT", endpoint_.c_str(), 1);
  setenv("VERNIER_TRIAL_ID", "42", 1);
  setenv("VERNIER_TOKEN", kToken, 1);
  unsetenv("VERNIER_TLS_CA");
  absl::StatusOr<std::unique_ptr<Trial>> trial =
      Trial::FromEnvironment(FastOptions());
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ((*trial)->id(), kTrialId);

  unsetenv("VERNIER_TOKEN");
  trial = Trial::FromEnvironment(FastOptions());
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(trial.status().message(), HasSubstr("VERNIER_TOKEN"));

  setenv("VERNIER_TOKEN", kToken, 1);
  setenv("VERNIER_TLS_CA", "/nonexistent/ca.pem", 1);
  trial = Trial::FromEnvironment(FastOptions());
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(trial.status().message(), HasSubstr("VERNIER_TLS_CA"));
  EXPECT_THAT(trial.status().message(), HasSubstr("/nonexistent/ca.pem"));
}

TEST_F(ClientTest, DecodesParametersWithTheirTypes) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  EXPECT_EQ(trial->id(), kTrialId);
  EXPECT_EQ(trial->number(), 3);
  // The spec types `layers` INT: an int64_t, not the double on the wire.
  EXPECT_THAT(trial->params(),
              UnorderedElementsAre(Pair("lr", ParamValue(0.01)),
                                   Pair("layers", ParamValue(int64_t{4})),
                                   Pair("kernel", ParamValue("rbf"))));

  EXPECT_EQ(trial->Double("lr").value(), 0.01);
  EXPECT_EQ(trial->Double("layers").value(), 4.0);
  EXPECT_EQ(trial->Int("layers").value(), 4);
  EXPECT_EQ(trial->String("kernel").value(), "rbf");

  EXPECT_EQ(trial->Int("lr").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trial->Int("kernel").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trial->String("layers").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trial->String("lr").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trial->Double("kernel").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<double> missing = trial->Double("momentum");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("momentum"));
}

TEST_F(ClientTest, IntReadsAWholeDiscreteValueAndUntypedNumbersAreDoubles) {
  google::protobuf::Value batch;
  batch.set_number_value(64);
  service_.AddParameter("batch", batch, v1::ParameterSpec::DISCRETE);
  service_.AddParameter("untyped", batch, v1::ParameterSpec::TYPE_UNSPECIFIED);
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  EXPECT_EQ(trial->params().at("batch"), ParamValue(64.0));
  EXPECT_EQ(trial->params().at("untyped"), ParamValue(64.0));
  EXPECT_EQ(trial->Int("batch").value(), 64);
}

TEST_F(ClientTest, RejectsAnIntParameterWhoseValueIsNotAnInteger) {
  google::protobuf::Value half;
  half.set_number_value(2.5);
  service_.AddParameter("depth", half, v1::ParameterSpec::INT);
  absl::StatusOr<std::unique_ptr<Trial>> trial =
      Trial::Connect(endpoint_, kTrialId, kToken, FastOptions());
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(trial.status().message(), HasSubstr("depth"));
}

TEST_F(ClientTest, RejectsAParameterThatIsNeitherNumberNorString) {
  google::protobuf::Value flag;
  flag.set_bool_value(true);
  service_.AddParameter("flag", flag, v1::ParameterSpec::TYPE_UNSPECIFIED);
  absl::StatusOr<std::unique_ptr<Trial>> trial =
      Trial::Connect(endpoint_, kTrialId, kToken, FastOptions());
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(trial.status().message(), HasSubstr("flag"));
}

TEST_F(ClientTest, UnknownTrialIsNotFound) {
  absl::StatusOr<std::unique_ptr<Trial>> trial =
      Trial::Connect(endpoint_, kTrialId + 1, kToken, FastOptions());
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, WrongTokenIsPermissionDenied) {
  absl::StatusOr<std::unique_ptr<Trial>> trial =
      Trial::Connect(endpoint_, kTrialId, "not-the-token", FastOptions());
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(trial.status().message(), HasSubstr("TrialService.GetTrial"));
}

TEST_F(ClientTest, ReportSendsStepMetricsAndTokenAndReturnsShouldStop) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  EXPECT_FALSE(trial->should_stop());

  absl::StatusOr<bool> stop = trial->Report(1, {{"loss", 0.9}, {"acc", 0.5}});
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_FALSE(*stop);
  EXPECT_FALSE(trial->should_stop());

  service_.set_should_stop(true);
  stop = trial->Report(2, {{"loss", 0.7}});
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_TRUE(*stop);
  EXPECT_TRUE(trial->should_stop());

  std::vector<Call> reports = service_.reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].authorization, "Bearer s3cret");
  EXPECT_EQ(reports[0].trial_id, kTrialId);
  EXPECT_EQ(reports[0].step, 1);
  EXPECT_THAT(reports[0].metrics,
              UnorderedElementsAre(Pair("loss", 0.9), Pair("acc", 0.5)));
  EXPECT_EQ(reports[1].step, 2);
  EXPECT_THAT(reports[1].metrics, ElementsAre(Pair("loss", 0.7)));
}

TEST_F(ClientTest, ReportRetriesATransientUnavailable) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  service_.FailReports(
      1, grpc::Status(grpc::StatusCode::UNAVAILABLE, "database is busy"));
  service_.set_should_stop(true);

  absl::StatusOr<bool> stop = trial->Report(5, {{"loss", 0.25}});
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_TRUE(*stop);
  std::vector<Call> reports = service_.reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].step, 5);
  EXPECT_THAT(reports[1].metrics, ElementsAre(Pair("loss", 0.25)));
  EXPECT_THAT(service_.stored(),
              ElementsAre(Pair(5, ElementsAre(Pair("loss", 0.25)))));
}

TEST_F(ClientTest, ReportRetriesAfterTheCallDeadlinePasses) {
  TrialOptions options = FastOptions();
  options.call_timeout = absl::Milliseconds(200);
  std::unique_ptr<Trial> trial = ConnectOrDie(options);
  ASSERT_NE(trial, nullptr);
  // The first attempt is stored but answered too late; the retry stores the
  // same values again, which leaves one value per (step, metric).
  service_.DelayReports(1, absl::Seconds(1));

  absl::StatusOr<bool> stop = trial->Report(7, {{"loss", 0.5}});
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_EQ(service_.reports().size(), 2u);
  EXPECT_THAT(service_.stored(),
              ElementsAre(Pair(7, ElementsAre(Pair("loss", 0.5)))));
}

TEST_F(ClientTest, ReportGivesUpAfterMaxAttempts) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  service_.FailReports(
      100, grpc::Status(grpc::StatusCode::UNAVAILABLE, "database is down"));

  absl::StatusOr<bool> stop = trial->Report(1, {{"loss", 1.0}});
  EXPECT_EQ(stop.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(stop.status().message(), HasSubstr("database is down"));
  EXPECT_EQ(service_.reports().size(), 3u);  // FastOptions().max_attempts
  EXPECT_FALSE(trial->should_stop());
}

TEST_F(ClientTest, ReportDoesNotRetryAPermanentError) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  service_.FailReports(1, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                       "the trial has ended"));

  absl::StatusOr<bool> stop = trial->Report(1, {{"loss", 1.0}});
  EXPECT_EQ(stop.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_.reports().size(), 1u);
}

TEST_F(ClientTest, ReportWithARevokedTokenIsPermissionDenied) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  service_.set_token("rotated");

  absl::StatusOr<bool> stop = trial->Report(1, {{"loss", 1.0}});
  EXPECT_EQ(stop.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(service_.reports().size(), 1u);
  EXPECT_TRUE(service_.stored().empty());
}

TEST_F(ClientTest, CompleteSendsTheFinalMetrics) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);

  absl::Status status = trial->Complete({{"loss", 0.125}, {"acc", 0.97}});
  ASSERT_TRUE(status.ok()) << status;
  std::vector<Call> finishes = service_.finishes();
  ASSERT_EQ(finishes.size(), 1u);
  EXPECT_EQ(finishes[0].authorization, "Bearer s3cret");
  EXPECT_EQ(finishes[0].trial_id, kTrialId);
  EXPECT_THAT(finishes[0].metrics,
              UnorderedElementsAre(Pair("loss", 0.125), Pair("acc", 0.97)));
}

TEST_F(ClientTest, ReportAsyncStoresEveryStepInOrderOverOneStream) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  constexpr int kSteps = 200;
  std::atomic<int> answered = 0;
  for (int step = 1; step <= kSteps; ++step) {
    ASSERT_TRUE(trial
                    ->ReportAsync(step, {{"loss", 1.0 / step}},
                                  [&answered](absl::StatusOr<bool> stop) {
                                    EXPECT_TRUE(stop.ok()) << stop.status();
                                    ++answered;
                                  })
                    .ok());
  }
  ASSERT_TRUE(trial->Flush(absl::Seconds(20)).ok());
  EXPECT_EQ(answered, kSteps);
  EXPECT_EQ(service_.streams(), 1);
  std::vector<int64_t> sent;
  for (const std::vector<int64_t>& request : service_.stream_requests()) {
    sent.insert(sent.end(), request.begin(), request.end());
  }
  ASSERT_EQ(sent.size(), static_cast<size_t>(kSteps));
  for (int i = 0; i < kSteps; ++i) EXPECT_EQ(sent[i], i + 1);  // in order
  EXPECT_EQ(service_.stored().size(), static_cast<size_t>(kSteps));
  EXPECT_EQ(service_.stored().at(4).at("loss"), 0.25);
  EXPECT_FALSE(trial->should_stop());
}

TEST_F(ClientTest, ReportAsyncFollowsShouldStopAndCompleteFlushesFirst) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  service_.set_should_stop(true);
  ASSERT_TRUE(trial->ReportAsync(1, {{"loss", 0.5}}).ok());
  ASSERT_TRUE(trial->Complete({{"loss", 0.5}}).ok());
  EXPECT_TRUE(trial->should_stop());
  EXPECT_EQ(service_.stored().count(1), 1u);
  EXPECT_THAT(service_.finishes(), SizeIs(1));
}

TEST_F(ClientTest, ReportAsyncResendsWhatALostStreamDidNotAcknowledge) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  service_.FailStreams(
      2, grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  for (int step = 1; step <= 5; ++step) {
    ASSERT_TRUE(trial->ReportAsync(step, {{"loss", 1.0 * step}}).ok());
  }
  ASSERT_TRUE(trial->Flush(absl::Seconds(20)).ok());
  EXPECT_EQ(service_.streams(), 3);
  EXPECT_EQ(service_.stored().size(), 5u);
  // Step 1 was stored by each failed stream and resent: idempotent.
  EXPECT_GE(service_.stream_requests().size(), 3u);
  EXPECT_EQ(service_.stream_requests()[1].front(), 1);
}

TEST_F(ClientTest, ReportAsyncGivesUpOnAPermanentErrorAndSaysSoAfterwards) {
  std::unique_ptr<Trial> trial = ConnectOrDie();
  ASSERT_NE(trial, nullptr);
  service_.set_token("rotated");
  absl::Status lost;
  absl::Notification answered;
  ASSERT_TRUE(trial
                  ->ReportAsync(1, {{"loss", 0.5}},
                                [&](absl::StatusOr<bool> stop) {
                                  lost = stop.status();
                                  answered.Notify();
                                })
                  .ok());
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(lost.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(lost.message()),
              HasSubstr("TrialService.StreamMeasurements"));
  EXPECT_EQ(trial->Flush(absl::Seconds(5)).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(trial->ReportAsync(2, {{"loss", 0.4}}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(service_.streams(), 1);  // not retried
}

TEST_F(ClientTest, ReportAsyncGivesUpAfterMaxAttemptsOfLostStreams) {
  std::unique_ptr<Trial> trial = ConnectOrDie();  // max_attempts 3
  ASSERT_NE(trial, nullptr);
  service_.FailStreams(
      10, grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  ASSERT_TRUE(trial->ReportAsync(1, {{"loss", 0.5}}).ok());
  EXPECT_EQ(trial->Flush(absl::Seconds(20)).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.streams(), 3);
}

TEST(ConnectTest, UnreachableEndpointIsUnavailable) {
  TrialOptions options = FastOptions();
  options.max_attempts = 2;
  // Port 1 (tcpmux) is closed on any machine that runs these tests.
  absl::StatusOr<std::unique_ptr<Trial>> trial =
      Trial::Connect("127.0.0.1:1", kTrialId, kToken, options);
  EXPECT_EQ(trial.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace vernier::client
