#include "trial-runner/kubernetes/kubeconfig.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trial-runner/kubernetes/credentials.h"

namespace vernier::kubernetes {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kCa[] =
    "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr char kCert[] =
    "-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----\n";
constexpr char kKey[] =
    "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n";

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat(
               "kubeconfig_test_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  KubeconfigSources WithKubeconfig(const std::string& path) {
    KubeconfigSources sources;
    sources.kubeconfig_env = path;
    return sources;
  }

  fs::path dir_;
};

// Two contexts on one cluster: one with a token, one with client
// certificate files; the CA is a file next to the kubeconfig.
constexpr char kTwoContexts[] = R"yaml(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: lab
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: pki/ca.crt
users:
- name: robot
  user: {token: s3cret}
- name: admin
  user:
    client-certificate: pki/admin.crt
    client-key: pki/admin.key
contexts:
- name: dev
  context: {cluster: lab, user: robot, namespace: ml}
- name: prod-gpu
  context: {cluster: lab, user: admin}
)yaml";

TEST_F(KubeconfigTest, TokenContextWithCaFile) {
  Write("pki/ca.crt", kCa);
  const std::string path = Write("config", kTwoContexts);
  absl::StatusOr<ClusterConfig> config =
      ResolveCluster(WithKubeconfig(path), "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->context, "dev");
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->default_namespace, "ml");
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->token, "s3cret");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST_F(KubeconfigTest, ClientCertificateFilesOfANamedContext) {
  Write("pki/ca.crt", kCa);
  Write("pki/admin.crt", kCert);
  Write("pki/admin.key", kKey);
  const std::string path = Write("config", kTwoContexts);
  absl::StatusOr<ClusterConfig> config =
      ResolveCluster(WithKubeconfig(path), "prod-gpu");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->context, "prod-gpu");
  EXPECT_EQ(config->client_cert_pem, kCert);
  EXPECT_EQ(config->client_key_pem, kKey);
  EXPECT_EQ(config->token, "");
}

TEST_F(KubeconfigTest, InlineDataAndInsecureSkipVerify) {
  const std::string path =
      Write("config", absl::StrCat(R"yaml(
current-context: inline
clusters:
- name: c
  cluster:
    server: https://10.0.0.1
    certificate-authority-data: )yaml",
                                   absl::Base64Escape(kCa),
                                   R"yaml(
- name: open
  cluster: {server: https://10.0.0.2, insecure-skip-tls-verify: true}
users:
- name: u
  user:
    client-certificate-data: )yaml",
                                   absl::Base64Escape(kCert),
                                   R"yaml(
    client-key-data: )yaml",
                                   absl::Base64Escape(kKey),
                                   R"yaml(
contexts:
- {name: inline, context: {cluster: c, user: u}}
- {name: open, context: {cluster: open, user: u}}
)yaml"));
  absl::StatusOr<ClusterConfig> config =
      ResolveCluster(WithKubeconfig(path), "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->client_cert_pem, kCert);
  EXPECT_EQ(config->client_key_pem, kKey);
  absl::StatusOr<ClusterConfig> open =
      ResolveCluster(WithKubeconfig(path), "open");
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_TRUE(open->insecure_skip_tls_verify);
  EXPECT_EQ(open->ca_pem, "");
}

TEST_F(KubeconfigTest, KubeconfigListMergesFirstWins) {
  Write("pki/ca.crt", kCa);
  const std::string first = Write("first", R"yaml(
current-context: prod-gpu
users:
- {name: robot, user: {token: from-first}}
)yaml");
  const std::string second = Write("config", kTwoContexts);
  absl::StatusOr<ClusterConfig> config =
      ResolveCluster(WithKubeconfig(absl::StrCat(
                         first, ":", (dir_ / "missing").string(), ":", second)),
                     "dev");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token, "from-first");
}

TEST_F(KubeconfigTest, HomeKubeConfigWhenNoEnvironmentVariable) {
  Write("home/.kube/pki/ca.crt", kCa);
  Write("home/.kube/config", kTwoContexts);
  KubeconfigSources sources;
  sources.home = (dir_ / "home").string();
  absl::StatusOr<ClusterConfig> config = ResolveCluster(sources, "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token, "s3cret");
}

TEST_F(KubeconfigTest, ErrorsNameTheContext) {
  Write("pki/ca.crt", kCa);
  const std::string path = Write("config", kTwoContexts);
  absl::StatusOr<ClusterConfig> missing =
      ResolveCluster(WithKubeconfig(path), "staging");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("kubeconfig context 'staging' is not in"));
  // prod-gpu's certificate files do not exist.
  absl::StatusOr<ClusterConfig> no_cert =
      ResolveCluster(WithKubeconfig(path), "prod-gpu");
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_cert.status().message(),
              HasSubstr("kubeconfig context 'prod-gpu': user 'admin': "
                        "client-certificate: cannot read"));
  EXPECT_THAT(no_cert.status().message(), HasSubstr("admin.crt"));
}

TEST_F(KubeconfigTest, InClusterServiceAccountFiles) {
  Write("root/var/run/secrets/kubernetes.io/serviceaccount/token",
        "sa-token\n");
  Write("root/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", kCa);
  Write("root/var/run/secrets/kubernetes.io/serviceaccount/namespace",
        "ml-tuning");
  KubeconfigSources sources;
  sources.in_cluster_root = (dir_ / "root").string();
  sources.service_host = "10.96.0.1";
  sources.service_port = "443";
  absl::StatusOr<ClusterConfig> config = ResolveCluster(sources, "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->context, "in-cluster");
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->ca_pem, kCa);
  EXPECT_EQ(config->default_namespace, "ml-tuning");
  Credentials credentials(*config, ProcessCommandRunner(), absl::Now);
  absl::StatusOr<RequestCredentials> got = credentials.Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->bearer_token, "sa-token");
}

TEST_F(KubeconfigTest, NothingConfiguredIsNotFound) {
  KubeconfigSources sources;
  sources.in_cluster_root = dir_.string();
  absl::StatusOr<ClusterConfig> config = ResolveCluster(sources, "");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("no kubeconfig"));
}

// An exec plugin as EKS, GKE and AKS use: a script that counts its runs and
// prints an ExecCredential expiring at a fixed time.
class ExecPluginTest : public KubeconfigTest {
 protected:
  ClusterConfig Resolve(const std::string& script_body) {
    const std::string script = Write("plugin.sh", script_body);
    chmod(script.c_str(), 0755);
    const std::string path =
        Write("config", absl::StrCat(R"yaml(
current-context: eks
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users:
- name: iam
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: )yaml",
                                     script, R"yaml(
      args: [token, --cluster, lab]
      env: [{name: RUNS, value: )yaml",
                                     (dir_ / "runs").string(),
                                     R"yaml(}]
      interactiveMode: Never
contexts: [{name: eks, context: {cluster: c, user: iam}}]
)yaml"));
    absl::StatusOr<ClusterConfig> config =
        ResolveCluster(WithKubeconfig(path), "");
    EXPECT_TRUE(config.ok()) << config.status();
    return config.value_or(ClusterConfig{});
  }
  int Runs() {
    std::ifstream in(dir_ / "runs");
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
  }
};

constexpr char kPlugin[] = R"sh(#!/bin/sh
echo "$1 $2 $3 $KUBERNETES_EXEC_INFO" >> "$RUNS"
cat <<EOF
{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
 "status": {"token": "tok-$(wc -l < "$RUNS" | tr -d ' ')",
            "expirationTimestamp": "2030-01-01T00:10:00Z"}}
EOF
)sh";

TEST_F(ExecPluginTest, TokenIsCachedUntilItExpires) {
  const ClusterConfig config = Resolve(kPlugin);
  ASSERT_TRUE(config.exec.has_value());
  absl::Time now = absl::FromCivil(absl::CivilSecond(2030, 1, 1, 0, 0, 0),
                                   absl::UTCTimeZone());
  Credentials credentials(config, ProcessCommandRunner(), [&] { return now; });
  ASSERT_EQ(credentials.Get()->bearer_token, "tok-1");
  now += absl::Minutes(9);
  EXPECT_EQ(credentials.Get()->bearer_token, "tok-1");
  EXPECT_EQ(Runs(), 1);
  now += absl::Minutes(2);  // past expirationTimestamp
  EXPECT_EQ(credentials.Get()->bearer_token, "tok-2");
  credentials.Invalidate();  // as after a 401
  EXPECT_EQ(credentials.Get()->bearer_token, "tok-3");
  std::ifstream in(dir_ / "runs");
  std::string first;
  std::getline(in, first);
  EXPECT_THAT(first, HasSubstr("token --cluster lab"));
  EXPECT_THAT(first, HasSubstr("\"kind\":\"ExecCredential\""));
  EXPECT_THAT(first, HasSubstr("\"interactive\":false"));
}

TEST_F(ExecPluginTest, FailingPluginNamesTheContext) {
  const ClusterConfig config =
      Resolve("#!/bin/sh\necho 'error: SSO session expired' >&2\nexit 3\n");
  Credentials credentials(config, ProcessCommandRunner(), absl::Now);
  absl::StatusOr<RequestCredentials> got = credentials.Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(),
              HasSubstr("kubeconfig context 'eks': exec plugin"));
  EXPECT_THAT(got.status().message(),
              HasSubstr("exit code 3): error: SSO session expired"));
}

TEST_F(ExecPluginTest, OutputWithoutCredentialIsRefused) {
  const ClusterConfig config = Resolve(
      "#!/bin/sh\necho '{\"kind\": \"ExecCredential\", \"status\": {}}'\n");
  Credentials credentials(config, ProcessCommandRunner(), absl::Now);
  EXPECT_THAT(credentials.Get().status().message(),
              HasSubstr("neither a token nor a client certificate"));
}

TEST(ParseExecCredentialTest, ClientCertificateWithoutExpiry) {
  auto parsed = ParseExecCredential(
      R"({"kind": "ExecCredential", "status": {"clientCertificateData": "C",
          "clientKeyData": "K"}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->first.client_cert_pem, "C");
  EXPECT_EQ(parsed->first.client_key_pem, "K");
  EXPECT_EQ(parsed->second, absl::InfiniteFuture());
}

// Found by fuzz_exec_credential: fields of the wrong type threw
// nlohmann::json's type_error out of the credential refresh.
TEST(ParseExecCredentialTest, FieldsOfTheWrongTypeAreRefusedNotThrown) {
  for (const char* json :
       {R"({"kind": 1, "status": {"token": "t"}})",
        R"({"kind": "ExecCredential", "status": {"token": 5}})",
        R"({"kind": "ExecCredential", "status": {"clientCertificateData": [],
            "clientKeyData": "K"}})"}) {
    const auto parsed = ParseExecCredential(json);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << json;
  }
  // Not "never expires": a credential must not be cached forever by mistake.
  const auto parsed = ParseExecCredential(
      R"({"kind": "ExecCredential", "status": {"token": "t",
          "expirationTimestamp": 1700000000}})");
  EXPECT_THAT(parsed.status().message(),
              HasSubstr("expirationTimestamp is not an RFC 3339 string"));
}

}  // namespace
}  // namespace vernier::kubernetes
