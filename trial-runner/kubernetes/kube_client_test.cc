#include "trial-runner/kubernetes/kube_client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trial-runner/kubernetes/fake_transport.h"

namespace vernier::kubernetes {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// A client on a fake transport and a fake clock whose sleeps advance time.
class KubeClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<KubeClient> NewClient(ClusterConfig cluster = {},
                                        CommandRunner runner = nullptr,
                                        KubeClientOptions options = {}) {
    if (cluster.context.empty()) {
      cluster.context = "lab";
      cluster.server = "https://10.0.0.1:6443";
      cluster.token = "s3cret";
      cluster.ca_pem = "CA";
    }
    options.clock = [this] { return now_; };
    options.sleep = [this](absl::Duration d) {
      sleeps_.push_back(d);
      now_ += d;
    };
    options.jitter_seed = 7;
    options.max_attempts = 4;
    options.initial_backoff = absl::Seconds(1);
    options.max_backoff = absl::Seconds(3);
    return std::make_unique<KubeClient>(
        std::make_shared<Credentials>(std::move(cluster), std::move(runner),
                                      [this] { return now_; }),
        transport_, options);
  }

  std::shared_ptr<FakeTransport> transport_ = std::make_shared<FakeTransport>();
  absl::Time now_ = absl::UnixEpoch();
  std::vector<absl::Duration> sleeps_;
};

TEST_F(KubeClientTest, SendsCredentialsAndTls) {
  auto client = NewClient();
  transport_->Push(200, R"({"kind": "JobList", "items": []})");
  absl::StatusOr<nlohmann::json> list =
      client->Call("GET", "/apis/batch/v1/namespaces/ml/jobs");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)["kind"], "JobList");
  const HttpRequest request = transport_->requests().at(0);
  EXPECT_EQ(request.url,
            "https://10.0.0.1:6443/apis/batch/v1/namespaces/ml/jobs");
  EXPECT_EQ(request.headers.at("Authorization"), "Bearer s3cret");
  EXPECT_EQ(request.tls.ca_pem, "CA");
}

TEST_F(KubeClientTest, TooManyRequestsWaitsForRetryAfter) {
  auto client = NewClient();
  transport_->Push(429, R"({"message": "slow down"})", {{"retry-after", "5"}});
  transport_->Push(429, R"({"message": "slow down"})", {{"retry-after", "5"}});
  transport_->Push(201, R"({"kind": "Job"})");
  nlohmann::json body = {{"kind", "Job"}};
  absl::StatusOr<nlohmann::json> created =
      client->Call("POST", "/apis/batch/v1/namespaces/ml/jobs", &body);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(sleeps_.size(), 2u);
  for (absl::Duration d : sleeps_) EXPECT_GE(d, absl::Seconds(5));
  EXPECT_EQ(transport_->requests().at(2).body, R"({"kind":"Job"})");
}

TEST_F(KubeClientTest, ServerErrorsBackOffWithJitterThenGiveUp) {
  auto client = NewClient();
  for (int i = 0; i < 4; ++i) {
    transport_->Push(503, R"({"message": "etcd leader changed"})");
  }
  absl::StatusOr<nlohmann::json> got = client->Call("GET", "/api/v1/pods");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(got.status().message(), HasSubstr("etcd leader changed"));
  ASSERT_EQ(sleeps_.size(), 3u);
  // Attempt n waits in [1/2, 1] of min(3 s, 1 s * 2^(n-2)).
  const absl::Duration caps[] = {absl::Seconds(1), absl::Seconds(2),
                                 absl::Seconds(3)};
  for (int i = 0; i < 3; ++i) {
    EXPECT_GE(sleeps_[i], caps[i] / 2) << i;
    EXPECT_LE(sleeps_[i], caps[i]) << i;
  }
}

TEST_F(KubeClientTest, BrokenConnectionsAreRetried) {
  auto client = NewClient();
  transport_->PushError(absl::UnavailableError("Connection reset by peer"));
  transport_->Push(200, "{}");
  EXPECT_TRUE(client->Call("GET", "/api/v1/pods").ok());
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(KubeClientTest, EveryAttemptIsToldWithItsStatus) {
  std::vector<std::pair<std::string, int>> told;
  KubeClientOptions options;
  options.on_request = [&told](absl::string_view method, int status) {
    told.emplace_back(method, status);
  };
  auto client = NewClient({}, nullptr, options);
  transport_->PushError(absl::UnavailableError("Connection reset by peer"));
  transport_->Push(429, R"({"message": "slow down"})");
  transport_->Push(201, R"({"kind": "Job"})");
  transport_->Push(404, R"({"message": "jobs \"x\" not found"})");
  nlohmann::json body = {{"kind", "Job"}};
  EXPECT_TRUE(
      client->Call("POST", "/apis/batch/v1/namespaces/ml/jobs", &body).ok());
  EXPECT_TRUE(absl::IsNotFound(
      client->Call("DELETE", "/apis/batch/v1/namespaces/ml/jobs/x").status()));
  EXPECT_THAT(told, ElementsAre(Pair("POST", 0), Pair("POST", 429),
                                Pair("POST", 201), Pair("DELETE", 404)));
}

TEST_F(KubeClientTest, ErrorsCarryTheServersMessage) {
  auto client = NewClient();
  transport_->Push(
      403,
      R"({"kind": "Status", "message": "jobs \"t-1\" is forbidden: exceeded quota: compute, requested: cpu=4"})");
  transport_->Push(401, R"({"message": "Unauthorized"})");
  transport_->Push(410, R"({"message": "too old resource version"})");
  auto quota = client->Call("POST", "/apis/batch/v1/namespaces/ml/jobs");
  EXPECT_EQ(quota.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(quota.status().message(), HasSubstr("exceeded quota"));
  auto refused = client->Call("GET", "/api/v1/pods");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("refused the credentials of kubeconfig context 'lab'"));
  auto gone = client->Call("GET", "/api/v1/pods");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(KubeClientTest, UnauthorizedRunsThePluginAgainOnce) {
  ClusterConfig cluster;
  cluster.context = "eks";
  cluster.server = "https://10.0.0.1";
  cluster.exec = ExecPlugin{"client.authentication.k8s.io/v1", {"aws"}, {}};
  int runs = 0;
  auto client =
      NewClient(cluster, [&](const std::vector<std::string>&,
                             const std::map<std::string, std::string>&) {
        ++runs;
        return absl::StatusOr<std::string>(
            absl::StrCat(R"({"kind": "ExecCredential", "status": {"token": "t)",
                         runs, R"("}})"));
      });
  transport_->Push(401, "{}");
  transport_->Push(200, "{}");
  EXPECT_TRUE(client->Call("GET", "/api/v1/pods").ok());
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(transport_->requests().at(1).headers.at("Authorization"),
            "Bearer t2");
}

TEST(TokenBucketTest, BurstThenSteadyRate) {
  absl::Time now = absl::UnixEpoch();
  TokenBucket bucket(2, 2, [&] { return now; });
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(bucket.Reserve(), absl::Milliseconds(500));
  EXPECT_EQ(bucket.Reserve(), absl::Seconds(1));
  now += absl::Seconds(10);  // refills up to the burst only
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_GT(bucket.Reserve(), absl::ZeroDuration());
}

TEST_F(KubeClientTest, WatchDeliversEventsSplitAcrossChunks) {
  auto client = NewClient();
  transport_->PushStream(
      {R"({"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "5"}}})"
       "\n"
       R"({"type": "MODIF)",
       R"(IED", "object": {"metadata": {"name": "a", "resourceVersion": "6"}}})"
       "\n"});
  std::vector<std::pair<std::string, std::string>> events;
  absl::Status ended = client->Watch(
      "/apis/batch/v1/namespaces/ml/jobs?watch=1&resourceVersion=4",
      [&](const std::string& type, const nlohmann::json& object) {
        events.emplace_back(type, object["metadata"]["resourceVersion"]);
      },
      [] { return false; });
  EXPECT_TRUE(ended.ok()) << ended;
  EXPECT_THAT(events, ElementsAre(Pair("ADDED", "5"), Pair("MODIFIED", "6")));
}

TEST_F(KubeClientTest, WatchOfAnOldVersionIsOutOfRange) {
  auto client = NewClient();
  transport_->PushStream(
      {R"({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version: 4 [90]"}})"
       "\n"});
  transport_->Push(410, R"({"message": "too old"})");
  const auto ignore = [](const std::string&, const nlohmann::json&) {};
  const auto never = [] { return false; };
  EXPECT_EQ(client->Watch("/w", ignore, never).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(client->Watch("/w", ignore, never).code(),
            absl::StatusCode::kOutOfRange);
}

// Found by fuzz_kube_client: a watch line of the wrong shape threw out of
// the watch thread (a type that is not a string, an ERROR whose object is
// not an object or whose code is not a number).
TEST_F(KubeClientTest, WatchEventsOfTheWrongShapeAreErrorsNotThrows) {
  const auto ignore = [](const std::string&, const nlohmann::json&) {};
  const auto never = [] { return false; };
  auto client = NewClient();
  for (const char* line :
       {R"({"type": 1, "object": {}})", R"({"type": "ADDED", "object": 3})",
        R"({"type": "ERROR", "object": "gone"})", R"([1, 2])"}) {
    transport_->PushStream({std::string(line) + "\n"});
    const absl::Status status = client->Watch("/w", ignore, never);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << line;
    EXPECT_THAT(status.message(), HasSubstr("malformed watch event")) << line;
  }
  transport_->PushStream(
      {R"({"type": "ERROR", "object": {"code": "410", "message": 7}})"
       "\n"});
  EXPECT_EQ(client->Watch("/w", ignore, never).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(KubeClientTest, ErrorBodyWithANonStringMessageIsQuoted) {
  auto client = NewClient();
  transport_->Push(409, R"({"message": ["not", "text"]})");
  const absl::Status status = client->Call("POST", "/jobs").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr(R"(["not", "text"])"));
}

TEST_F(KubeClientTest, CancelledWatchEnds) {
  auto client = NewClient();
  transport_->PushStream({"", ""});
  EXPECT_EQ(client
                ->Watch(
                    "/w", [](const std::string&, const nlohmann::json&) {},
                    [] { return true; })
                .code(),
            absl::StatusCode::kCancelled);
}

TEST(UrlEncodeTest, EscapesSelectors) {
  EXPECT_EQ(UrlEncode("vernier.dev/owner=srv-1,vernier.dev/study"),
            "vernier.dev%2Fowner%3Dsrv-1%2Cvernier.dev%2Fstudy");
}

}  // namespace
}  // namespace vernier::kubernetes
