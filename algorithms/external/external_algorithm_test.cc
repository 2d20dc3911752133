#include "algorithms/external/external_algorithm.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "algorithms/algorithm.h"
#include "algorithms/search_space.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "vernier/v1/service.grpc.pb.h"

extern char** environ;

namespace vernier::algorithms {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAreArray;
using v1::ParameterSpec;

std::string DirFromEnv(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// examples/plugin/plugin.py run by /usr/bin/python3 on a port of its
// choosing, with the generated stubs on its PYTHONPATH. Killed (and reaped)
// when destroyed; also killed if the test process dies first.
class PluginProcess {
 public:
  PluginProcess() = default;
  PluginProcess(const PluginProcess&) = delete;
  PluginProcess& operator=(const PluginProcess&) = delete;

  ~PluginProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 500 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  // Starts the plug-in and waits for its `listening on HOST:PORT` line.
  absl::Status Start() {
    const std::string script =
        DirFromEnv("VERNIER_SOURCE_DIR", VERNIER_DEFAULT_SOURCE_DIR) +
        "/examples/plugin/plugin.py";
    const std::string python_path =
        "PYTHONPATH=" +
        DirFromEnv("VERNIER_BINARY_DIR", VERNIER_DEFAULT_BINARY_DIR) +
        "/python";
    std::vector<std::string> env_text = {python_path};
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "PYTHONPATH=")) {
        env_text.push_back(*e);
      }
    }
    std::vector<char*> env;
    for (std::string& e : env_text) env.push_back(e.data());
    env.push_back(nullptr);
    std::string python = "/usr/bin/python3";
    std::string port_flag = "--port";
    std::string port = "0";
    std::vector<char*> argv = {python.data(), const_cast<char*>(script.data()),
                               port_flag.data(), port.data(), nullptr};

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return absl::InternalError("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(fds[1], STDOUT_FILENO);
      execve(argv[0], argv.data(), env.data());
      _exit(127);
    }
    close(fds[1]);
    stdout_fd_ = fds[0];

    std::string line;
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (line.find('\n') == std::string::npos) {
      pollfd poll_fd{stdout_fd_, POLLIN, 0};
      if (std::chrono::steady_clock::now() > give_up ||
          poll(&poll_fd, 1, 1000) < 0) {
        return absl::DeadlineExceededError("plugin.py did not start");
      }
      char buffer[256];
      const ssize_t n = read(stdout_fd_, buffer, sizeof buffer);
      if (n == 0) {
        return absl::InternalError(
            absl::StrCat("plugin.py exited before serving: ", line));
      }
      if (n > 0) line.append(buffer, n);
    }
    line.resize(line.find('\n'));
    constexpr absl::string_view kPrefix = "listening on ";
    if (!absl::StartsWith(line, kPrefix)) {
      return absl::InternalError(absl::StrCat("plugin.py said: ", line));
    }
    endpoint_ = line.substr(kPrefix.size());
    return absl::OkStatus();
  }

  const std::string& endpoint() const { return endpoint_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string endpoint_;
};

// A loopback address where nothing listens.
std::string UnusedEndpoint() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
}

ParameterSpec Range(const std::string& name, ParameterSpec::Type type,
                    double min, double max, bool log = false) {
  ParameterSpec p;
  p.set_name(name);
  p.set_type(type);
  p.set_min(min);
  p.set_max(max);
  if (log) p.set_scale(ParameterSpec::LOG);
  return p;
}

ParameterSpec Categorical(const std::string& name,
                          const std::vector<std::string>& categories) {
  ParameterSpec p;
  p.set_name(name);
  p.set_type(ParameterSpec::CATEGORICAL);
  for (const std::string& c : categories) p.add_categories(c);
  return p;
}

ParameterSpec Discrete(const std::string& name,
                       const std::vector<double>& values) {
  ParameterSpec p;
  p.set_name(name);
  p.set_type(ParameterSpec::DISCRETE);
  for (double v : values) p.add_values(v);
  return p;
}

v1::StudySpec SpecWith(const std::vector<ParameterSpec>& parameters,
                       const std::string& endpoint, int max_trials = 20) {
  v1::StudySpec spec;
  spec.set_name("plugin-test");
  spec.mutable_objective()->set_metric("loss");
  spec.mutable_objective()->set_goal(v1::ObjectiveSpec::MINIMIZE);
  spec.mutable_algorithm()->set_name(kExternalAlgorithmName);
  spec.mutable_algorithm()->set_endpoint(endpoint);
  for (const ParameterSpec& p : parameters) *spec.add_parameters() = p;
  spec.mutable_trials()->set_max(max_trials);
  spec.mutable_worker()->set_kind(v1::WorkerSpec::NONE);
  return spec;
}

// Every type and scale at once.
v1::StudySpec MixedSpec(const std::string& endpoint) {
  return SpecWith({Range("lr", ParameterSpec::DOUBLE, 1e-4, 1, /*log=*/true),
                   Range("dropout", ParameterSpec::DOUBLE, 0, 0.5),
                   Range("layers", ParameterSpec::INT, 1, 8),
                   Range("width", ParameterSpec::INT, 8, 512, /*log=*/true),
                   Discrete("batch", {16, 32, 64}),
                   Categorical("kernel", {"rbf", "poly", "linear"})},
                  endpoint);
}

AlgorithmContext ContextFor(const v1::StudySpec& spec, uint64_t seed = 7) {
  absl::StatusOr<SearchSpace> space = SearchSpace::Create(spec.parameters());
  EXPECT_TRUE(space.ok()) << space.status();
  return AlgorithmContext{
      .space = *std::move(space),
      .objective = spec.objective(),
      .seed = seed,
      .seed_given = true,
      .settings = spec.algorithm().settings(),
      .spec = spec,
  };
}

std::unique_ptr<Algorithm> Adapter(const AlgorithmContext& context,
                                   ExternalAlgorithmOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Algorithm>> algorithm =
      CreateExternalAlgorithm(context, options);
  EXPECT_TRUE(algorithm.ok()) << algorithm.status();
  return algorithm.ok() ? *std::move(algorithm) : nullptr;
}

std::vector<v1::Trial> TrialsOf(const std::vector<Assignment>& assignments,
                                int first_number = 1) {
  std::vector<v1::Trial> trials;
  for (const Assignment& assignment : assignments) {
    v1::Trial& trial = trials.emplace_back();
    trial.set_number(first_number++);
    trial.set_state(v1::Trial::SUCCEEDED);
    trial.set_objective(1.0 / trial.number());
    *trial.mutable_parameters() = assignment;
  }
  return trials;
}

std::vector<std::string> KeysOf(const SearchSpace& space,
                                const std::vector<Assignment>& assignments) {
  std::vector<std::string> keys;
  for (const Assignment& a : assignments) keys.push_back(space.Key(a));
  return keys;
}

// The real plug-in, once per test suite.
class RealPluginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plugin_ = new PluginProcess;
    start_status_ = new absl::Status(plugin_->Start());
  }
  static void TearDownTestSuite() {
    delete plugin_;
    delete start_status_;
  }
  void SetUp() override { ASSERT_TRUE(start_status_->ok()) << *start_status_; }

  static const std::string& endpoint() { return plugin_->endpoint(); }

  static PluginProcess* plugin_;
  static absl::Status* start_status_;
};

PluginProcess* RealPluginTest::plugin_ = nullptr;
absl::Status* RealPluginTest::start_status_ = nullptr;

TEST_F(RealPluginTest, SuggestsValidDistinctAssignmentsForAMixedSpace) {
  const AlgorithmContext context = ContextFor(MixedSpec(endpoint()));
  std::unique_ptr<Algorithm> algorithm = Adapter(context);
  ASSERT_NE(algorithm, nullptr);

  absl::StatusOr<std::vector<Assignment>> batch = algorithm->Suggest({}, 12);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 12u);
  std::set<std::string> keys;
  for (const Assignment& a : *batch) {
    EXPECT_TRUE(context.space.ToUnit(a).ok()) << context.space.Key(a);
    EXPECT_EQ(a.at("kernel").kind_case(),
              google::protobuf::Value::kStringValue);
    EXPECT_EQ(a.at("layers").number_value(),
              std::round(a.at("layers").number_value()));
    keys.insert(context.space.Key(a));
  }
  EXPECT_EQ(keys.size(), 12u);
}

TEST_F(RealPluginTest, PointsOfAStudySpreadOverEveryStratum) {
  // trials.max = 10 strata per parameter: ten points take one each, on the
  // log scale as on the linear one.
  const AlgorithmContext context = ContextFor(
      SpecWith({Range("lr", ParameterSpec::DOUBLE, 1e-5, 1e5, /*log=*/true),
                Range("momentum", ParameterSpec::DOUBLE, 0, 1)},
               endpoint(), /*max_trials=*/10));
  std::unique_ptr<Algorithm> algorithm = Adapter(context);
  ASSERT_NE(algorithm, nullptr);

  // Two batches: the second fills the strata the first left free.
  absl::StatusOr<std::vector<Assignment>> first = algorithm->Suggest({}, 4);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::vector<Assignment>> second =
      algorithm->Suggest(TrialsOf(*first), 6);
  ASSERT_TRUE(second.ok()) << second.status();
  std::vector<Assignment> all = *first;
  all.insert(all.end(), second->begin(), second->end());
  ASSERT_EQ(all.size(), 10u);
  for (int d = 0; d < 2; ++d) {
    std::set<int> strata;
    for (const Assignment& a : all) {
      strata.insert(static_cast<int>((*context.space.ToUnit(a))[d] * 10));
    }
    EXPECT_EQ(strata.size(), 10u) << "parameter " << d;
  }
  // 1e-5 .. 1e5 on a log scale: one point per two decades.
  std::set<int> decades;
  for (const Assignment& a : all) {
    decades.insert(static_cast<int>(
        std::floor((std::log10(a.at("lr").number_value()) + 5) / 2)));
  }
  EXPECT_EQ(decades.size(), 5u);
}

TEST_F(RealPluginTest, IntsAndListValuesSpreadEvenlyWhenAskedOneByOne) {
  // 12 strata: an int of 1..6 owns 2 of them, each of 2 categories 6, each of
  // 3 discrete values 4; twelve trials asked one at a time take each value
  // that many times.
  const v1::StudySpec spec = SpecWith(
      {Range("x", ParameterSpec::DOUBLE, -5, 5),
       Range("layers", ParameterSpec::INT, 1, 6),
       Categorical("act", {"relu", "tanh"}), Discrete("batch", {16, 32, 64})},
      endpoint(), /*max_trials=*/12);
  for (uint64_t seed : {1, 2, 3}) {
    std::unique_ptr<Algorithm> algorithm = Adapter(ContextFor(spec, seed));
    ASSERT_NE(algorithm, nullptr);
    std::vector<Assignment> all;
    for (int i = 0; i < 12; ++i) {
      absl::StatusOr<std::vector<Assignment>> next =
          algorithm->Suggest(TrialsOf(all), 1);
      ASSERT_TRUE(next.ok()) << next.status();
      ASSERT_EQ(next->size(), 1u);
      all.push_back(next->front());
    }
    std::map<double, int> layers;
    std::map<std::string, int> act;
    std::map<double, int> batch;
    for (const Assignment& a : all) {
      ++layers[a.at("layers").number_value()];
      ++act[a.at("act").string_value()];
      ++batch[a.at("batch").number_value()];
    }
    EXPECT_THAT(layers, ElementsAre(Pair(1, 2), Pair(2, 2), Pair(3, 2),
                                    Pair(4, 2), Pair(5, 2), Pair(6, 2)))
        << "seed " << seed;
    EXPECT_THAT(act, ElementsAre(Pair("relu", 6), Pair("tanh", 6)))
        << "seed " << seed;
    EXPECT_THAT(batch, ElementsAre(Pair(16, 4), Pair(32, 4), Pair(64, 4)))
        << "seed " << seed;
  }
}

TEST_F(RealPluginTest, NeverRepeatsTheHistoryAndEndsShortWhenTheSpaceIsUsed) {
  // 3 x 2 = 6 points; 4 are tried, so only the other 2 can come back.
  const AlgorithmContext context = ContextFor(SpecWith(
      {Range("x", ParameterSpec::INT, 1, 3), Categorical("k", {"a", "b"})},
      endpoint()));
  std::vector<Assignment> tried;
  std::vector<Assignment> left;
  for (double x : {1, 2, 3}) {
    for (const char* k : {"a", "b"}) {
      Assignment a;
      a["x"].set_number_value(x);
      a["k"].set_string_value(k);
      (x == 2 ? left : tried).push_back(a);
    }
  }
  std::unique_ptr<Algorithm> algorithm = Adapter(context);
  ASSERT_NE(algorithm, nullptr);

  absl::StatusOr<std::vector<Assignment>> batch =
      algorithm->Suggest(TrialsOf(tried), 5);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_THAT(KeysOf(context.space, *batch),
              UnorderedElementsAreArray(KeysOf(context.space, left)));

  std::vector<Assignment> everything = tried;
  everything.insert(everything.end(), left.begin(), left.end());
  absl::StatusOr<std::vector<Assignment>> none =
      algorithm->Suggest(TrialsOf(everything), 3);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST_F(RealPluginTest, HonoursCountAndRespectsAContinuousHistory) {
  const AlgorithmContext context = ContextFor(MixedSpec(endpoint()));
  std::unique_ptr<Algorithm> algorithm = Adapter(context);
  ASSERT_NE(algorithm, nullptr);

  absl::StatusOr<std::vector<Assignment>> nothing = algorithm->Suggest({}, 0);
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_TRUE(nothing->empty());

  absl::StatusOr<std::vector<Assignment>> first = algorithm->Suggest({}, 3);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 3u);
  absl::StatusOr<std::vector<Assignment>> second =
      algorithm->Suggest(TrialsOf(*first), 1);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->size(), 1u);
  const std::vector<std::string> before = KeysOf(context.space, *first);
  EXPECT_THAT(
      before,
      ::testing::Not(::testing::Contains(context.space.Key(second->front()))));
}

TEST_F(RealPluginTest, SameSeedAndHistoryGiveTheSameSuggestions) {
  const v1::StudySpec spec = MixedSpec(endpoint());
  const AlgorithmContext context = ContextFor(spec, /*seed=*/11);
  absl::StatusOr<std::vector<Assignment>> a = Adapter(context)->Suggest({}, 4);
  absl::StatusOr<std::vector<Assignment>> b = Adapter(context)->Suggest({}, 4);
  absl::StatusOr<std::vector<Assignment>> other =
      Adapter(ContextFor(spec, /*seed=*/12))->Suggest({}, 4);
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  EXPECT_EQ(KeysOf(context.space, *a), KeysOf(context.space, *b));
  EXPECT_NE(KeysOf(context.space, *a), KeysOf(context.space, *other));
}

TEST_F(RealPluginTest, RefusedSettingsAreInvalidArgumentWithThePluginsWords) {
  v1::StudySpec spec = MixedSpec(endpoint());
  (*spec.mutable_algorithm()->mutable_settings()->mutable_fields())["foo"]
      .set_number_value(1);
  // Building the adapter does not ask the plug-in; the first Suggest does.
  std::unique_ptr<Algorithm> algorithm = Adapter(ContextFor(spec));
  ASSERT_NE(algorithm, nullptr);
  absl::StatusOr<std::vector<Assignment>> batch = algorithm->Suggest({}, 2);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(batch.status().message(),
              AllOf(HasSubstr(absl::StrCat("algorithm plug-in at ", endpoint(),
                                           " refused the study")),
                    HasSubstr("settings.foo: unknown setting")));
}

TEST_F(RealPluginTest, AcceptsItsOwnSetting) {
  v1::StudySpec spec = MixedSpec(endpoint());
  (*spec.mutable_algorithm()->mutable_settings()->mutable_fields())["strata"]
      .set_number_value(4);
  absl::StatusOr<std::vector<Assignment>> batch =
      Adapter(ContextFor(spec))->Suggest({}, 4);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->size(), 4u);
}

TEST(ExternalAlgorithmTest, UnreachablePluginIsUnavailable) {
  const std::string endpoint = UnusedEndpoint();
  std::unique_ptr<Algorithm> algorithm =
      Adapter(ContextFor(MixedSpec(endpoint)));
  ASSERT_NE(algorithm, nullptr);
  absl::StatusOr<std::vector<Assignment>> batch = algorithm->Suggest({}, 1);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(batch.status().message(),
              HasSubstr(absl::StrCat("algorithm plug-in at ", endpoint,
                                     " is unreachable")));
}

TEST(ExternalAlgorithmTest, MissingEndpointIsRefusedWhenBuilt) {
  absl::StatusOr<std::unique_ptr<Algorithm>> algorithm =
      CreateExternalAlgorithm(ContextFor(MixedSpec("")));
  EXPECT_EQ(algorithm.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(algorithm.status().message(), HasSubstr("algorithm.endpoint"));
}

// An in-process AlgorithmPlugin whose answers a test chooses, to play a
// plug-in that breaks the protocol.
class FakePlugin final : public v1::AlgorithmPlugin::Service {
 public:
  using SuggestFn = std::function<grpc::Status(
      grpc::ServerContext*, const v1::SuggestRequest&, v1::SuggestResponse*)>;

  explicit FakePlugin(SuggestFn suggest) : suggest_(std::move(suggest)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakePlugin() override {
    server_->Shutdown(std::chrono::system_clock::now());
  }

  std::string endpoint() const { return absl::StrCat("127.0.0.1:", port_); }
  std::optional<v1::SuggestRequest> last_request() {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_request_;
  }

  grpc::Status ValidateStudy(grpc::ServerContext*,
                             const v1::ValidateStudyRequest*,
                             v1::ValidateStudyResponse*) override {
    return grpc::Status::OK;
  }
  grpc::Status Suggest(grpc::ServerContext* context,
                       const v1::SuggestRequest* request,
                       v1::SuggestResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last_request_ = *request;
    }
    return suggest_(context, *request, response);
  }

 private:
  SuggestFn suggest_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mutex_;
  std::optional<v1::SuggestRequest> last_request_;
};

// Two parameters: x an INT in [1, 10], k one of a, b.
v1::StudySpec SmallSpec(const std::string& endpoint) {
  return SpecWith(
      {Range("x", ParameterSpec::INT, 1, 10), Categorical("k", {"a", "b"})},
      endpoint);
}

v1::Assignment Point(double x, const std::string& k) {
  v1::Assignment a;
  (*a.mutable_parameters())["x"].set_number_value(x);
  (*a.mutable_parameters())["k"].set_string_value(k);
  return a;
}

struct BrokenAnswerCase {
  std::string label;
  std::vector<v1::Assignment> answer;
  std::string message;  // a part of the error
};

void PrintTo(const BrokenAnswerCase& c, std::ostream* os) { *os << c.label; }

class BrokenAnswerTest : public ::testing::TestWithParam<BrokenAnswerCase> {};

TEST_P(BrokenAnswerTest, IsInvalidArgumentNamingThePlugin) {
  const BrokenAnswerCase& c = GetParam();
  FakePlugin plugin([&](grpc::ServerContext*, const v1::SuggestRequest&,
                        v1::SuggestResponse* response) {
    for (const v1::Assignment& a : c.answer) *response->add_assignments() = a;
    return grpc::Status::OK;
  });
  const AlgorithmContext context = ContextFor(SmallSpec(plugin.endpoint()));
  std::unique_ptr<Algorithm> algorithm = Adapter(context);
  ASSERT_NE(algorithm, nullptr);
  // Trial 1 already holds x=1, k=a.
  Assignment tried;
  tried["x"].set_number_value(1);
  tried["k"].set_string_value("a");

  absl::StatusOr<std::vector<Assignment>> batch =
      algorithm->Suggest(TrialsOf({tried}), 2);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument)
      << batch.status();
  EXPECT_THAT(batch.status().message(),
              AllOf(HasSubstr(absl::StrCat("algorithm plug-in at ",
                                           plugin.endpoint(), " returned ")),
                    HasSubstr(c.message)));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BrokenAnswerTest,
    ::testing::Values(
        BrokenAnswerCase{"OutOfRange",
                         {Point(2, "a"), Point(11, "b")},
                         "an invalid assignment: parameter 'x'"},
        BrokenAnswerCase{"NotAnInteger",
                         {Point(2.5, "a")},
                         "an invalid assignment: parameter 'x'"},
        BrokenAnswerCase{"UnknownCategory",
                         {Point(2, "c")},
                         "an invalid assignment: parameter 'k'"},
        BrokenAnswerCase{"MissingParameter",
                         {[] {
                           v1::Assignment a = Point(2, "a");
                           a.mutable_parameters()->erase("k");
                           return a;
                         }()},
                         "an invalid assignment: parameter 'k': missing"},
        BrokenAnswerCase{"UnknownParameter",
                         {[] {
                           v1::Assignment a = Point(2, "a");
                           (*a.mutable_parameters())["y"].set_number_value(1);
                           return a;
                         }()},
                         "parameter 'y' is not in the search space"},
        BrokenAnswerCase{
            "RepeatsTheHistory", {Point(1, "a")}, "a duplicate assignment"},
        BrokenAnswerCase{"RepeatsWithinTheBatch",
                         {Point(3, "b"), Point(3, "b")},
                         "a duplicate assignment"},
        BrokenAnswerCase{"MoreThanAsked",
                         {Point(2, "a"), Point(3, "a"), Point(4, "a")},
                         "3 assignments for a count of 2"}),
    [](const ::testing::TestParamInfo<BrokenAnswerCase>& info) {
      return info.param.label;
    });

TEST(ExternalAlgorithmTest, PluginReceivesSpecHistoryCountAndSeed) {
  FakePlugin plugin([](grpc::ServerContext*, const v1::SuggestRequest&,
                       v1::SuggestResponse* response) {
    *response->add_assignments() = Point(5, "b");
    return grpc::Status::OK;
  });
  const v1::StudySpec spec = SmallSpec(plugin.endpoint());
  std::unique_ptr<Algorithm> algorithm = Adapter(ContextFor(spec, /*seed=*/42));
  ASSERT_NE(algorithm, nullptr);
  Assignment tried;
  tried["x"].set_number_value(1);
  tried["k"].set_string_value("a");
  std::vector<v1::Trial> history = TrialsOf({tried});
  history[0].set_log_path("/tmp/trial-1.log");
  history[0].set_log_tail("Traceback ...");

  absl::StatusOr<std::vector<Assignment>> batch =
      algorithm->Suggest(history, 3);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(batch->front().at("x").number_value(), 5);

  const std::optional<v1::SuggestRequest> request = plugin.last_request();
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->spec().name(), spec.name());
  EXPECT_EQ(request->spec().parameters_size(), 2);
  EXPECT_EQ(request->spec().algorithm().endpoint(), plugin.endpoint());
  EXPECT_EQ(request->count(), 3);
  EXPECT_EQ(request->seed(), 42u);
  ASSERT_EQ(request->trials_size(), 1);
  EXPECT_EQ(request->trials(0).number(), 1);
  EXPECT_EQ(request->trials(0).parameters().at("k").string_value(), "a");
  EXPECT_TRUE(request->trials(0).log_tail().empty());
  EXPECT_TRUE(request->trials(0).log_path().empty());
}

TEST(ExternalAlgorithmTest, SlowPluginHitsTheDeadline) {
  FakePlugin plugin([](grpc::ServerContext* context, const v1::SuggestRequest&,
                       v1::SuggestResponse*) {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!context->IsCancelled() &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return grpc::Status::CANCELLED;
  });
  std::unique_ptr<Algorithm> algorithm =
      Adapter(ContextFor(SmallSpec(plugin.endpoint())),
              ExternalAlgorithmOptions{.deadline = absl::Milliseconds(200)});
  ASSERT_NE(algorithm, nullptr);
  absl::StatusOr<std::vector<Assignment>> batch = algorithm->Suggest({}, 1);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(batch.status().message(), HasSubstr("did not answer within"));
}

TEST(ExternalAlgorithmTest, OtherPluginErrorsKeepTheirCode) {
  FakePlugin plugin([](grpc::ServerContext*, const v1::SuggestRequest&,
                       v1::SuggestResponse*) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "model blew up");
  });
  absl::StatusOr<std::vector<Assignment>> batch =
      Adapter(ContextFor(SmallSpec(plugin.endpoint())))->Suggest({}, 1);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(batch.status().message(),
              AllOf(HasSubstr(plugin.endpoint()), HasSubstr("model blew up")));
}

TEST(RegistryTest, RegisteredExternalIsBuiltByName) {
  RegisterExternalAlgorithm();
  EXPECT_THAT(AlgorithmNames(), ::testing::Contains(kExternalAlgorithmName));
  // Built without the plug-in running: validation must not need it.
  absl::StatusOr<std::unique_ptr<Algorithm>> algorithm = CreateAlgorithm(
      kExternalAlgorithmName, ContextFor(MixedSpec(UnusedEndpoint())));
  EXPECT_TRUE(algorithm.ok()) << algorithm.status();
}

TEST(RegistryTest, ANameIsNeverReplaced) {
  const AlgorithmFactory factory = [](const AlgorithmContext&)
      -> absl::StatusOr<std::unique_ptr<Algorithm>> {
    return absl::InternalError("the impostor ran");
  };
  EXPECT_EQ(RegisterAlgorithm("random", factory).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(RegisterAlgorithm("", factory).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RegisterAlgorithm("nothing", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<Algorithm>> random =
      CreateAlgorithm("random", ContextFor(MixedSpec("")));
  EXPECT_TRUE(random.ok()) << random.status();
}

}  // namespace
}  // namespace vernier::algorithms
