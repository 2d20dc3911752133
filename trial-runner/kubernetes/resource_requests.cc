#include "trial-runner/kubernetes/resource_requests.h"

#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vernier::kubernetes {
namespace {

// The suffixes of a quantity and what each multiplies by.
constexpr std::pair<absl::string_view, double> kSuffixes[] = {
    {"Ki", 0x1p10}, {"Mi", 0x1p20}, {"Gi", 0x1p30}, {"Ti", 0x1p40},
    {"Pi", 0x1p50}, {"Ei", 0x1p60}, {"n", 1e-9},    {"u", 1e-6},
    {"m", 1e-3},    {"k", 1e3},     {"M", 1e6},     {"G", 1e9},
    {"T", 1e12},    {"P", 1e15},    {"E", 1e18},
};

constexpr double kBytesPerGb = 0x1p30;

// The grammar of a Kubernetes quantity: a non-negative decimal number with
// an optional suffix: binary (Ki..Ei), decimal (n, u, m, k, M..E) or an
// exponent (e3, E-2).
bool IsQuantity(absl::string_view text) {
  size_t i = 0;
  if (i < text.size() && text[i] == '+') ++i;
  size_t digits = 0;
  while (i < text.size() && absl::ascii_isdigit(text[i])) ++i, ++digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && absl::ascii_isdigit(text[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  const absl::string_view suffix = text.substr(i);
  if (suffix.empty()) return true;
  for (const auto& [known, factor] : kSuffixes) {
    if (suffix == known) return true;
  }
  if (suffix.front() != 'e' && suffix.front() != 'E') return false;
  absl::string_view exponent = suffix.substr(1);
  if (!exponent.empty() &&
      (exponent.front() == '+' || exponent.front() == '-')) {
    exponent.remove_prefix(1);
  }
  if (exponent.empty()) return false;
  for (char c : exponent) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

// One resource of `quantities` (a requests or limits map), or nullopt.
absl::StatusOr<std::optional<double>> Quantity(const nlohmann::json& quantities,
                                               const std::string& resource,
                                               const std::string& path) {
  if (!quantities.is_object() || !quantities.contains(resource)) {
    return std::nullopt;
  }
  const nlohmann::json& value = quantities[resource];
  absl::StatusOr<double> parsed =
      value.is_number() ? absl::StatusOr<double>(value.get<double>())
      : value.is_string()
          ? ParseQuantity(value.get<std::string>())
          : absl::InvalidArgumentError("must be a quantity");
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".", resource, ": ", parsed.status().message()));
  }
  return *parsed;
}

}  // namespace

absl::StatusOr<double> ParseQuantity(absl::string_view text) {
  absl::string_view number = text;
  double scale = 1;
  for (const auto& [suffix, factor] : kSuffixes) {
    if (number.size() > suffix.size() &&
        number.substr(number.size() - suffix.size()) == suffix &&
        absl::ascii_isdigit(number[number.size() - suffix.size() - 1])) {
      number.remove_suffix(suffix.size());
      scale = factor;
      break;
    }
  }
  double value = 0;
  if (!IsQuantity(text) || !absl::SimpleAtod(number, &value) ||
      !std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text,
        "' is not a Kubernetes quantity (a number >= 0 with an optional "
        "suffix: m, k, M, G, Ki, Mi, Gi, ...)"));
  }
  return value * scale;
}

absl::StatusOr<PodRequests> PodRequestsOf(const nlohmann::json& job) {
  PodRequests requests;
  nlohmann::json containers = job.value(
      nlohmann::json::json_pointer("/spec/template/spec/containers"),
      nlohmann::json::array());
  if (!containers.is_array()) containers = nlohmann::json::array();
  for (size_t i = 0; i < containers.size(); ++i) {
    nlohmann::json resources =
        containers[i].is_object()
            ? containers[i].value("resources", nlohmann::json::object())
            : nlohmann::json::object();
    if (!resources.is_object()) resources = nlohmann::json::object();
    const std::string path =
        absl::StrCat("spec.template.spec.containers[", i, "].resources");
    const std::pair<const char*, double*> wanted[] = {
        {kGpuResource, &requests.gpus},
        {"cpu", &requests.cpus},
        {"memory", &requests.memory_gb},
    };
    for (const auto& [resource, total] : wanted) {
      absl::StatusOr<std::optional<double>> request = Quantity(
          resources.value("requests", nlohmann::json::object()), resource,
          path + ".requests");
      if (!request.ok()) return request.status();
      if (!request->has_value()) {
        request = Quantity(resources.value("limits", nlohmann::json::object()),
                           resource, path + ".limits");
        if (!request.ok()) return request.status();
      }
      *total += request->value_or(0);
    }
  }
  requests.memory_gb /= kBytesPerGb;
  return requests;
}

}  // namespace vernier::kubernetes
