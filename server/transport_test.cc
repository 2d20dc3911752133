// What the server offers besides the two services, over a real connection:
// binding, health checking, reflection, TLS and the message size limit.
#include <grpcpp/generic/generic_stub.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "server/server_test_util.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::server {
namespace {

using ::google::protobuf::UnknownField;
using ::google::protobuf::UnknownFieldSet;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::ServerFixture;
using ::testing::StartsWith;
using testing::TempDir;

// Neither the health nor the reflection proto ships with Debian's gRPC, so
// these tests speak their wire format by field number.

std::string StringField(int number, const std::string& value) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    constexpr uint32_t kLengthDelimited = 2;
    coded.WriteTag((static_cast<uint32_t>(number) << 3) | kLengthDelimited);
    coded.WriteVarint32(static_cast<uint32_t>(value.size()));
    coded.WriteString(value);
  }
  return out;
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

// grpc.health.v1.Health/Check for `service`: the status field
// (1 SERVING, 2 NOT_SERVING), or the call's error.
struct HealthAnswer {
  grpc::Status status;
  uint64_t serving_status = 0;
};

HealthAnswer CheckHealth(std::shared_ptr<grpc::Channel> channel,
                         const std::string& service) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  PrepareClientContext(&context, "", absl::Seconds(20));
  const grpc::ByteBuffer request =
      ToByteBuffer(service.empty() ? "" : StringField(1, service));
  grpc::ByteBuffer response;
  HealthAnswer answer;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status status) {
                   answer.status = std::move(status);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!answer.status.ok()) return answer;
  UnknownFieldSet fields;
  EXPECT_TRUE(fields.ParseFromString(FromByteBuffer(response)));
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == 1) {
      answer.serving_status = fields.field(i).varint();
    }
  }
  return answer;
}

// The service names grpc.reflection.v1alpha.ServerReflection lists.
std::vector<std::string> ReflectedServices(
    std::shared_ptr<grpc::Channel> channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  PrepareClientContext(&context, "", absl::Seconds(20));
  const auto next = [&queue] {
    void* tag = nullptr;
    bool ok = false;
    return queue.Next(&tag, &ok) && ok;
  };
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  call->StartCall(nullptr);
  EXPECT_TRUE(next());
  // ServerReflectionRequest.list_services (field 7).
  call->Write(ToByteBuffer(StringField(7, "*")), nullptr);
  EXPECT_TRUE(next());
  grpc::ByteBuffer response;
  call->Read(&response, nullptr);
  const bool read = next();
  call->WritesDone(nullptr);
  EXPECT_TRUE(next());
  grpc::Status status;
  call->Finish(&status, nullptr);
  EXPECT_TRUE(next());
  EXPECT_TRUE(status.ok()) << status.error_message();
  queue.Shutdown();
  while (next()) {
  }
  std::vector<std::string> names;
  if (!read) return names;

  // ServerReflectionResponse.list_services_response (6)
  //   -> ListServiceResponse.service (1) -> ServiceResponse.name (1).
  UnknownFieldSet top;
  EXPECT_TRUE(top.ParseFromString(FromByteBuffer(response)));
  for (int i = 0; i < top.field_count(); ++i) {
    if (top.field(i).number() != 6) continue;
    UnknownFieldSet list;
    EXPECT_TRUE(list.ParseFromString(top.field(i).length_delimited()));
    for (int j = 0; j < list.field_count(); ++j) {
      UnknownFieldSet service;
      EXPECT_TRUE(service.ParseFromString(list.field(j).length_delimited()));
      for (int k = 0; k < service.field_count(); ++k) {
        if (service.field(k).number() == 1) {
          names.push_back(service.field(k).length_delimited());
        }
      }
    }
  }
  return names;
}

grpc::Status ListStudies(std::shared_ptr<grpc::Channel> channel) {
  auto stub = v1::StudyService::NewStub(channel);
  grpc::ClientContext context;
  PrepareClientContext(&context, "", absl::Seconds(20));
  v1::ListStudiesResponse response;
  return stub->ListStudies(&context, {}, &response);
}

class TransportTest : public ServerFixture {};

TEST_F(TransportTest, PortZeroBindsAFreeLoopbackPort) {
  StartServer();
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->address(), absl::StrCat("127.0.0.1:", server_->port()));
  EXPECT_FALSE(server_->tls());
  EXPECT_TRUE(ListStudies(Channel()).ok());
}

TEST_F(TransportTest, AnAddressInUseIsUnavailable) {
  StartServer();
  GrpcServerOptions options;
  options.address = server_->address();
  absl::StatusOr<std::unique_ptr<GrpcServer>> second =
      GrpcServer::Start(options, manager_.get(), store_.get());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("cannot listen on ", server_->address()));
}

TEST_F(TransportTest, BadOptionsAreInvalidArgument) {
  GrpcServerOptions options;
  options.address = "127.0.0.1:0";
  options.tls_cert_file = dir_.path() + "/cert.pem";
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(options, manager_.get(), store_.get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);

  options.tls_key_file = dir_.path() + "/key.pem";
  server = GrpcServer::Start(options, manager_.get(), store_.get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("cert.pem"));

  options = GrpcServerOptions();
  options.address = "127.0.0.1:0";
  options.max_message_bytes = 0;
  server = GrpcServer::Start(options, manager_.get(), store_.get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TransportTest, HealthServiceAnswersServing) {
  StartServer();
  HealthAnswer overall = CheckHealth(Channel(), "");
  ASSERT_TRUE(overall.status.ok()) << overall.status.error_message();
  EXPECT_EQ(overall.serving_status, 1u);

  HealthAnswer unknown = CheckHealth(Channel(), "no.such.Service");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(TransportTest, ReflectionListsTheServices) {
  StartServer();
  const std::vector<std::string> services = ReflectedServices(Channel());
  EXPECT_THAT(services, Contains("vernier.v1.StudyService"));
  EXPECT_THAT(services, Contains("vernier.v1.TrialService"));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));
}

TEST_F(TransportTest, OversizedMessageIsResourceExhausted) {
  GrpcServerOptions options;
  options.max_message_bytes = 16 << 10;
  StartServer(options);
  auto stub = StudyStub();
  v1::CreateStudyRequest request;
  request.set_yaml(std::string(64 << 10, '#'));
  v1::Study study;
  const grpc::Status status =
      stub->CreateStudy(Context().get(), request, &study);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  v1::ListStudiesResponse studies;
  EXPECT_TRUE(stub->ListStudies(Context().get(), {}, &studies).ok());
  EXPECT_EQ(studies.studies_size(), 0);
}

TEST_F(TransportTest, CallsAfterShutdownFail) {
  StartServer();
  std::shared_ptr<grpc::Channel> channel = Channel();
  ASSERT_TRUE(ListStudies(channel).ok());
  server_->Shutdown(absl::Seconds(1));
  EXPECT_EQ(ListStudies(channel).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ClientChannelTest, UnreadableCaFileIsInvalidArgument) {
  ClientChannelOptions options;
  options.address = "127.0.0.1:1";
  options.tls_ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeClientChannel(options);
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(channel.status().message(), HasSubstr("/nonexistent/ca.pem"));

  EXPECT_EQ(MakeClientChannel({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Two self-signed certificates for localhost and 127.0.0.1, made once.
class TlsTest : public ServerFixture {
 protected:
  static void SetUpTestSuite() {
    certs_ = new TempDir();
    for (const char* name : {"server", "other"}) {
      const std::string command = absl::StrCat(
          "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
          "/CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
          "-keyout ",
          Path(name, "key"), " -out ", Path(name, "cert"), " 2>/dev/null");
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
    }
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  static std::string Path(absl::string_view name, absl::string_view kind) {
    return absl::StrCat(certs_->path(), "/", name, "-", kind, ".pem");
  }

  void SetUp() override {
    ServerFixture::SetUp();
    GrpcServerOptions options;
    options.tls_cert_file = Path("server", "cert");
    options.tls_key_file = Path("server", "key");
    StartServer(options);
  }

  static TempDir* certs_;
};

TempDir* TlsTest::certs_ = nullptr;

TEST_F(TlsTest, ClientTrustingTheCaIsServed) {
  EXPECT_TRUE(server_->tls());
  ClientChannelOptions options;
  options.tls_ca_file = Path("server", "cert");
  const grpc::Status status = ListStudies(Channel(options));
  EXPECT_TRUE(status.ok()) << status.error_message();

  options.tls_server_name = "localhost";
  EXPECT_TRUE(ListStudies(Channel(options)).ok());
  EXPECT_TRUE(CheckHealth(Channel(options), "").status.ok());
}

TEST_F(TlsTest, PlaintextClientFails) {
  EXPECT_EQ(ListStudies(Channel()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ClientTrustingAnotherCaFails) {
  ClientChannelOptions options;
  options.tls_ca_file = Path("other", "cert");
  EXPECT_EQ(ListStudies(Channel(options)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, CertificateForAnotherNameFails) {
  ClientChannelOptions options;
  options.tls_ca_file = Path("server", "cert");
  options.tls_server_name = "elsewhere.example";
  EXPECT_EQ(ListStudies(Channel(options)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace vernier::server
