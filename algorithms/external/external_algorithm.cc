#include "algorithms/external/external_algorithm.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "spdlog/spdlog.h"
#include "vernier/v1/service.grpc.pb.h"

namespace vernier::algorithms {
namespace {

class ExternalAlgorithm final : public Algorithm {
 public:
  ExternalAlgorithm(const AlgorithmContext& context,
                    const ExternalAlgorithmOptions& options)
      : space_(context.space),
        spec_(context.spec),
        seed_(context.seed),
        endpoint_(context.spec.algorithm().endpoint()),
        options_(options) {
    for (const v1::ParameterSpec& p : space_.parameters()) {
      parameter_names_.insert(p.name());
    }
  }

  absl::StatusOr<std::vector<Assignment>> Suggest(
      const std::vector<v1::Trial>& history, int count) override {
    if (count < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("count must be at least 0 (", count, ")"));
    }
    if (count == 0) return std::vector<Assignment>{};
    if (!validated_) {
      v1::ValidateStudyRequest request;
      *request.mutable_spec() = spec_;
      v1::ValidateStudyResponse response;
      grpc::ClientContext rpc;
      SetDeadline(&rpc);
      if (absl::Status status =
              FromGrpc(Stub()->ValidateStudy(&rpc, request, &response));
          !status.ok()) {
        return status;
      }
      validated_ = true;
      spdlog::info("algorithm plug-in at {} accepted study '{}'", endpoint_,
                   spec_.name());
    }

    v1::SuggestRequest request;
    *request.mutable_spec() = spec_;
    request.mutable_trials()->Reserve(static_cast<int>(history.size()));
    for (const v1::Trial& trial : history) {
      v1::Trial* sent = request.add_trials();
      *sent = trial;
      sent->clear_log_path();
      sent->clear_log_tail();
    }
    request.set_count(count);
    request.set_seed(seed_);
    v1::SuggestResponse response;
    grpc::ClientContext rpc;
    SetDeadline(&rpc);
    if (absl::Status status =
            FromGrpc(Stub()->Suggest(&rpc, request, &response));
        !status.ok()) {
      return status;
    }
    return Check(history, count, std::move(*response.mutable_assignments()));
  }

 private:
  v1::AlgorithmPlugin::Stub* Stub() {
    if (stub_ == nullptr) {
      stub_ = v1::AlgorithmPlugin::NewStub(
          grpc::CreateChannel(endpoint_, grpc::InsecureChannelCredentials()));
    }
    return stub_.get();
  }

  void SetDeadline(grpc::ClientContext* rpc) const {
    rpc->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(options_.deadline));
  }

  absl::Status FromGrpc(const grpc::Status& status) const {
    const std::string& message = status.error_message();
    switch (status.error_code()) {
      case grpc::StatusCode::OK:
        return absl::OkStatus();
      case grpc::StatusCode::UNAVAILABLE:
        return absl::UnavailableError(absl::StrCat(
            "algorithm plug-in at ", endpoint_, " is unreachable: ", message));
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return absl::DeadlineExceededError(absl::StrCat(
            "algorithm plug-in at ", endpoint_, " did not answer within ",
            absl::FormatDuration(options_.deadline)));
      case grpc::StatusCode::INVALID_ARGUMENT:
        return absl::InvalidArgumentError(
            absl::StrCat("algorithm plug-in at ", endpoint_,
                         " refused the study: ", message));
      default:
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            absl::StrCat("algorithm plug-in at ", endpoint_,
                                         ": RPC failed: ", message));
    }
  }

  absl::Status ProtocolError(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm plug-in at ", endpoint_, " returned ", what));
  }

  // The plug-in's answer, or INVALID_ARGUMENT when it breaks the protocol.
  absl::StatusOr<std::vector<Assignment>> Check(
      const std::vector<v1::Trial>& history, int count,
      google::protobuf::RepeatedPtrField<v1::Assignment> returned) const {
    if (returned.size() > count) {
      return ProtocolError(
          absl::StrCat(returned.size(), " assignments for a count of ", count));
    }
    absl::flat_hash_set<std::string> seen;
    for (const v1::Trial& trial : history) {
      seen.insert(space_.Key(trial.parameters()));
    }
    std::vector<Assignment> assignments;
    assignments.reserve(returned.size());
    for (v1::Assignment& assignment : returned) {
      Assignment& parameters = *assignment.mutable_parameters();
      // Sorted, so that the error names the same parameter every time.
      for (const std::string& name : KeysOf(parameters)) {
        if (!parameter_names_.contains(name)) {
          return ProtocolError(
              absl::StrCat("an invalid assignment: parameter '", name,
                           "' is not in the search space"));
        }
      }
      if (absl::StatusOr<std::vector<double>> point = space_.ToUnit(parameters);
          !point.ok()) {
        return ProtocolError(
            absl::StrCat("an invalid assignment: ", point.status().message()));
      }
      std::string key = space_.Key(parameters);
      if (!seen.insert(key).second) {
        return ProtocolError(absl::StrCat(
            "a duplicate assignment (already in the study or the batch): ",
            key));
      }
      assignments.push_back(std::move(parameters));
    }
    return assignments;
  }

  static std::set<std::string> KeysOf(const Assignment& parameters) {
    std::set<std::string> keys;
    for (const auto& [name, value] : parameters) keys.insert(name);
    return keys;
  }

  const SearchSpace space_;
  const v1::StudySpec spec_;
  const uint64_t seed_;
  const std::string endpoint_;
  const ExternalAlgorithmOptions options_;
  absl::flat_hash_set<std::string> parameter_names_;
  // Made on the first Suggest: building the adapter never touches the
  // network.
  std::unique_ptr<v1::AlgorithmPlugin::Stub> stub_;
  // The plug-in has accepted the study once.
  bool validated_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Algorithm>> CreateExternalAlgorithm(
    const AlgorithmContext& context, const ExternalAlgorithmOptions& options) {
  if (context.spec.algorithm().endpoint().empty()) {
    return absl::InvalidArgumentError(
        "algorithm.endpoint: required by the external algorithm: HOST:PORT of "
        "the process serving vernier.v1.AlgorithmPlugin");
  }
  return std::make_unique<ExternalAlgorithm>(context, options);
}

void RegisterExternalAlgorithm(const ExternalAlgorithmOptions& options) {
  const absl::Status status = RegisterAlgorithm(
      kExternalAlgorithmName, [options](const AlgorithmContext& context) {
        return CreateExternalAlgorithm(context, options);
      });
  if (!status.ok()) {
    spdlog::warn("external algorithm not registered: {}",
                 std::string(status.message()));
  }
}

}  // namespace vernier::algorithms
