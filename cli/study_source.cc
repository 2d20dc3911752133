#include "cli/study_source.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/serving.h"
#include "server/client_channel.h"
#include "server/status.h"
#include "storage/sqlite_store.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::cli {
namespace {

class DatabaseSource final : public StudySource {
 public:
  explicit DatabaseSource(std::unique_ptr<storage::Store> store)
      : store_(std::move(store)) {}

  absl::StatusOr<std::vector<v1::Study>> ListStudies() override {
    return store_->ListStudies();
  }
  absl::StatusOr<v1::Study> FindStudy(const std::string& name) override {
    return store_->FindStudy(name);
  }
  absl::StatusOr<std::vector<v1::Trial>> ListTrials(
      const v1::Study& study) override {
    return store_->ListTrials(study.id());
  }
  absl::StatusOr<v1::Study> Submit(const std::string&,
                                   const std::string&) override {
    return NeedsServer("submit");
  }
  absl::StatusOr<v1::Study> Stop(const std::string&) override {
    return NeedsServer("stop");
  }

 private:
  static absl::Status NeedsServer(absl::string_view command) {
    return absl::FailedPreconditionError(
        absl::StrCat("`vernier ", command,
                     "` talks to a server (--server ADDR); a database "
                     "file has no running studies to command"));
  }

  std::unique_ptr<storage::Store> store_;
};

class ServerSource final : public StudySource {
 public:
  ServerSource(std::shared_ptr<grpc::Channel> channel, std::string admin_token,
               std::string address)
      : stub_(v1::StudyService::NewStub(channel)),
        admin_token_(std::move(admin_token)),
        address_(std::move(address)) {}

  absl::StatusOr<std::vector<v1::Study>> ListStudies() override {
    v1::ListStudiesResponse response;
    absl::Status status = Call(&v1::StudyService::Stub::ListStudies,
                               v1::ListStudiesRequest(), &response);
    if (!status.ok()) return status;
    return std::vector<v1::Study>(response.studies().begin(),
                                  response.studies().end());
  }

  absl::StatusOr<v1::Study> FindStudy(const std::string& name) override {
    v1::GetStudyRequest request;
    request.set_name(name);
    v1::Study study;
    absl::Status status =
        Call(&v1::StudyService::Stub::GetStudy, request, &study);
    if (!status.ok()) return status;
    return study;
  }

  absl::StatusOr<std::vector<v1::Trial>> ListTrials(
      const v1::Study& study) override {
    v1::ListTrialsRequest request;
    request.set_study(study.name());
    v1::ListTrialsResponse response;
    absl::Status status =
        Call(&v1::StudyService::Stub::ListTrials, request, &response);
    if (!status.ok()) return status;
    return std::vector<v1::Trial>(response.trials().begin(),
                                  response.trials().end());
  }

  absl::StatusOr<v1::Study> Submit(const std::string& yaml_text,
                                   const std::string& base_dir) override {
    v1::CreateStudyRequest request;
    request.set_yaml(yaml_text);
    request.set_base_dir(base_dir);
    request.set_resume_existing(true);
    v1::Study study;
    absl::Status status =
        Call(&v1::StudyService::Stub::CreateStudy, request, &study);
    if (!status.ok()) return status;
    return study;
  }

  absl::StatusOr<v1::Study> Stop(const std::string& name) override {
    v1::StopStudyRequest request;
    request.set_name(name);
    v1::Study study;
    absl::Status status =
        Call(&v1::StudyService::Stub::StopStudy, request, &study);
    if (!status.ok()) return status;
    return study;
  }

 private:
  template <typename Method, typename Request, typename Response>
  absl::Status Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    server::PrepareClientContext(&context, admin_token_, absl::Seconds(60));
    absl::Status status =
        server::FromGrpcStatus(((*stub_).*method)(&context, request, response));
    if (absl::IsUnavailable(status)) {
      return absl::UnavailableError(absl::StrCat(
          "cannot reach a Vernier server at ", address_, ": ", status.message(),
          " (start one with `vernier serve`, or use --db PATH)"));
    }
    return status;
  }

  std::unique_ptr<v1::StudyService::Stub> stub_;
  const std::string admin_token_;
  const std::string address_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StudySource>> OpenStudySource(
    const Target& target) {
  std::string db_path = target.db_path;
  if (db_path.empty() && target.server.empty() &&
      std::filesystem::exists(kDefaultDb)) {
    db_path = kDefaultDb;
  }
  if (!db_path.empty()) {
    if (!std::filesystem::exists(db_path)) {
      return absl::NotFoundError("no database at " + db_path +
                                 " (use --db PATH)");
    }
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenSqliteStore(db_path);
    if (!store.ok()) return store.status();
    return std::make_unique<DatabaseSource>(*std::move(store));
  }
  server::ClientChannelOptions options;
  options.address = target.server.empty() ? kDefaultServer : target.server;
  options.tls_ca_file = target.tls_ca_file;
  if (!target.admin_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(target.admin_token_file);
    if (!token.ok()) return token.status();
    options.admin_token = *std::move(token);
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      server::MakeClientChannel(options);
  if (!channel.ok()) return channel.status();
  return std::make_unique<ServerSource>(*std::move(channel),
                                        options.admin_token, options.address);
}

absl::StatusOr<v1::Study> ResolveStudy(StudySource& source,
                                       const std::string& name) {
  if (!name.empty()) return source.FindStudy(name);
  absl::StatusOr<std::vector<v1::Study>> studies = source.ListStudies();
  if (!studies.ok()) return studies.status();
  if (studies->size() == 1) return studies->front();
  if (studies->empty()) return absl::NotFoundError("there is no study yet");
  std::vector<std::string> names;
  for (const v1::Study& study : *studies) names.push_back(study.name());
  return absl::InvalidArgumentError(
      absl::StrCat("there are ", names.size(),
                   " studies; name one: ", absl::StrJoin(names, ", ")));
}

}  // namespace vernier::cli
