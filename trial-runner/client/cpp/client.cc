#include "trial-runner/client/cpp/client.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "spdlog/spdlog.h"

namespace vernier::client {
namespace {

constexpr char kEndpointVar[] = "VERNIER_ENDPOINT";
constexpr char kTrialIdVar[] = "VERNIER_TRIAL_ID";
constexpr char kTokenVar[] = "VERNIER_TOKEN";
constexpr char kTlsCaVar[] = "VERNIER_TLS_CA";

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// The value of a variable that must be set and non-empty.
absl::StatusOr<std::string> RequiredVar(const EnvLookup& lookup,
                                        const char* name) {
  std::optional<std::string> value = lookup(name);
  if (!value.has_value() || value->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name,
                     " is not set: the Vernier client runs in a worker that "
                     "Vernier started"));
  }
  return *std::move(value);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::FailedPreconditionError(
        absl::StrCat(kTlsCaVar, ": cannot read ", path));
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad() || text.str().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kTlsCaVar, ": cannot read ", path, " (or it is empty)"));
  }
  return text.str();
}

// `number` as an int64 when it is integral and within range.
std::optional<int64_t> AsInt64(double number) {
  // 2^63 is exactly representable; every double in [-2^63, 2^63) fits int64.
  constexpr double kLimit = 9223372036854775808.0;
  if (number != std::trunc(number) || number < -kLimit || number >= kLimit) {
    return std::nullopt;
  }
  return static_cast<int64_t>(number);
}

// `value` typed by `type`, its parameter's type in the study's spec
// (TYPE_UNSPECIFIED when the spec does not name the parameter).
absl::StatusOr<ParamValue> DecodeParam(const std::string& name,
                                       const google::protobuf::Value& value,
                                       v1::ParameterSpec::Type type) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      if (type != v1::ParameterSpec::INT) {
        return ParamValue(value.number_value());
      }
      std::optional<int64_t> integer = AsInt64(value.number_value());
      if (!integer.has_value()) {
        return absl::InternalError(
            absl::StrCat("parameter ", name, " is INT but its value ",
                         value.number_value(), " is not an integer"));
      }
      return ParamValue(*integer);
    }
    case google::protobuf::Value::kStringValue:
      return ParamValue(value.string_value());
    default:
      return absl::InternalError(absl::StrCat(
          "parameter ", name, " is neither a number nor a string"));
  }
}

const char* TypeName(const ParamValue& value) {
  if (std::holds_alternative<int64_t>(value)) return "an integer";
  return std::holds_alternative<double>(value) ? "a number" : "a string";
}

}  // namespace

absl::StatusOr<WorkerEnvironment> ReadWorkerEnvironment(
    const EnvLookup& lookup) {
  const EnvLookup& get = lookup ? lookup : EnvLookup(ProcessEnv);
  WorkerEnvironment env;
  absl::StatusOr<std::string> endpoint = RequiredVar(get, kEndpointVar);
  if (!endpoint.ok()) return endpoint.status();
  env.endpoint = *std::move(endpoint);
  absl::StatusOr<std::string> trial_id = RequiredVar(get, kTrialIdVar);
  if (!trial_id.ok()) return trial_id.status();
  if (!absl::SimpleAtoi(*trial_id, &env.trial_id) || env.trial_id <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        kTrialIdVar, " must be a positive integer, not \"", *trial_id, "\""));
  }
  absl::StatusOr<std::string> token = RequiredVar(get, kTokenVar);
  if (!token.ok()) return token.status();
  env.token = *std::move(token);
  env.tls_ca_path = get(kTlsCaVar).value_or("");
  return env;
}

bool IsTransient(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kDeadlineExceeded;
}

absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view rpc) {
  if (status.ok()) return absl::OkStatus();
  // grpc::StatusCode and absl::StatusCode share the canonical numbering.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(rpc, ": ", status.error_message()));
}

absl::StatusOr<std::unique_ptr<Trial>> Trial::FromEnvironment(
    TrialOptions options) {
  absl::StatusOr<WorkerEnvironment> env = ReadWorkerEnvironment();
  if (!env.ok()) return env.status();
  if (!env->tls_ca_path.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(env->tls_ca_path);
    if (!pem.ok()) return pem.status();
    options.tls_ca_pem = *std::move(pem);
  }
  return Connect(env->endpoint, env->trial_id, env->token, std::move(options));
}

absl::StatusOr<std::unique_ptr<Trial>> Trial::Connect(
    const std::string& endpoint, int64_t trial_id, const std::string& token,
    TrialOptions options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_pem.has_value()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *options.tls_ca_pem;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  options.max_attempts = std::max(options.max_attempts, 1);
  // A connection of its own, even beside other trials in one process (a
  // benchmark's clients): trials do not share a connection's fate or queue.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::unique_ptr<Trial> trial(
      new Trial(v1::TrialService::NewStub(grpc::CreateCustomChannel(
                    endpoint, std::move(credentials), arguments)),
                token, std::move(options)));

  v1::GetTrialRequest request;
  request.set_trial_id(trial_id);
  v1::GetTrialResponse response;
  absl::Status status = trial->CallWithRetry(
      "TrialService.GetTrial", [&](grpc::ClientContext& context) {
        return trial->stub_->GetTrial(&context, request, &response);
      });
  if (!status.ok()) return status;

  std::map<std::string, v1::ParameterSpec::Type> types;
  for (const v1::ParameterSpec& spec : response.parameters()) {
    types[spec.name()] = spec.type();
  }
  trial->id_ = response.trial().id();
  trial->number_ = response.trial().number();
  for (const auto& [name, value] : response.trial().parameters()) {
    auto type = types.find(name);
    absl::StatusOr<ParamValue> decoded =
        DecodeParam(name, value,
                    type == types.end() ? v1::ParameterSpec::TYPE_UNSPECIFIED
                                        : type->second);
    if (!decoded.ok()) return decoded.status();
    trial->params_.emplace(name, *std::move(decoded));
  }
  spdlog::debug("vernier: connected to {} as trial {} (number {})", endpoint,
                trial->id_, trial->number_);
  return trial;
}

Trial::Trial(std::unique_ptr<v1::TrialService::Stub> stub, std::string token,
             TrialOptions options)
    : stub_(std::move(stub)),
      token_(std::move(token)),
      options_(std::move(options)) {}

Trial::~Trial() = default;

absl::StatusOr<double> Trial::Double(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) {
    return absl::NotFoundError(absl::StrCat("trial has no parameter ", name));
  }
  if (const double* number = std::get_if<double>(&it->second)) return *number;
  if (const int64_t* integer = std::get_if<int64_t>(&it->second)) {
    return static_cast<double>(*integer);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "parameter ", name, " is ", TypeName(it->second), ", not a number"));
}

absl::StatusOr<int64_t> Trial::Int(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) {
    return absl::NotFoundError(absl::StrCat("trial has no parameter ", name));
  }
  if (const int64_t* integer = std::get_if<int64_t>(&it->second)) {
    return *integer;
  }
  if (const double* number = std::get_if<double>(&it->second)) {
    if (std::optional<int64_t> integer = AsInt64(*number)) return *integer;
    return absl::InvalidArgumentError(
        absl::StrCat("parameter ", name, " is ", *number, ", not an integer"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("parameter ", name, " is a string, not an integer"));
}

absl::StatusOr<std::string> Trial::String(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) {
    return absl::NotFoundError(absl::StrCat("trial has no parameter ", name));
  }
  if (const std::string* text = std::get_if<std::string>(&it->second)) {
    return *text;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "parameter ", name, " is ", TypeName(it->second), ", not a string"));
}

absl::StatusOr<bool> Trial::Report(
    int64_t step, const std::map<std::string, double>& metrics) {
  v1::ReportMeasurementRequest request;
  request.set_trial_id(id_);
  v1::Measurement* measurement = request.add_measurements();
  measurement->set_step(step);
  measurement->mutable_metrics()->insert(metrics.begin(), metrics.end());
  v1::ReportMeasurementResponse response;
  absl::Status status = CallWithRetry(
      "TrialService.ReportMeasurement", [&](grpc::ClientContext& context) {
        return stub_->ReportMeasurement(&context, request, &response);
      });
  if (!status.ok()) return status;
  should_stop_.store(response.should_stop());
  return response.should_stop();
}

absl::Status Trial::ReportAsync(
    int64_t step, const std::map<std::string, double>& metrics,
    std::function<void(absl::StatusOr<bool>)> done) {
  v1::Measurement measurement;
  measurement.set_step(step);
  measurement.mutable_metrics()->insert(metrics.begin(), metrics.end());
  std::lock_guard<std::mutex> lock(stream_mu_);
  if (stream_ == nullptr) {
    stream_ = std::make_unique<ReportStream>(
        stub_.get(), id_, token_,
        StreamRetry{.max_attempts = options_.max_attempts,
                    .initial_backoff = options_.initial_backoff,
                    .max_backoff = options_.max_backoff});
  }
  return stream_->Add(
      std::move(measurement),
      [this, done = std::move(done)](absl::StatusOr<bool> should_stop) {
        if (should_stop.ok() && *should_stop) should_stop_.store(true);
        if (done) done(should_stop);
      });
}

absl::Status Trial::Flush(absl::Duration timeout) {
  ReportStream* stream = nullptr;
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    stream = stream_.get();  // lives as long as this
  }
  return stream == nullptr ? absl::OkStatus() : stream->Flush(timeout);
}

absl::Status Trial::Complete(const std::map<std::string, double>& metrics) {
  if (absl::Status flushed = Flush(); !flushed.ok()) return flushed;
  v1::FinishTrialRequest request;
  request.set_trial_id(id_);
  request.mutable_metrics()->insert(metrics.begin(), metrics.end());
  v1::FinishTrialResponse response;
  return CallWithRetry(
      "TrialService.FinishTrial", [&](grpc::ClientContext& context) {
        return stub_->FinishTrial(&context, request, &response);
      });
}

absl::Status Trial::CallWithRetry(
    absl::string_view rpc,
    const std::function<grpc::Status(grpc::ClientContext&)>& rpc_call) {
  absl::Duration backoff = options_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + options_.call_timeout));
    absl::Status status = FromGrpcStatus(rpc_call(context), rpc);
    if (status.ok() || !IsTransient(status.code()) ||
        attempt >= options_.max_attempts) {
      return status;
    }
    spdlog::warn("vernier: {} (attempt {} of {}); retrying in {}",
                 status.ToString(), attempt, options_.max_attempts,
                 absl::FormatDuration(backoff));
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace vernier::client
