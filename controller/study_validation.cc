// ValidateStudySpec: the rules every StudySpec meets, whatever it came from.
// Paths name fields as the YAML does ("parameters[2].values", not
// "categories"), so that a YAML user and a gRPC user read the same errors.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "algorithms/algorithm.h"
#include "algorithms/early_stopping/early_stopping_rule.h"
#include "algorithms/search_space.h"
#include "controller/cost_validation.h"
#include "controller/kubernetes_validation.h"
#include "controller/study_yaml.h"
#include "trial-runner/params_template.h"

namespace vernier::controller {
namespace {

constexpr int kMaxStudyNameLength = 63;
// The algorithm that delegates to a plug-in at algorithm.endpoint (see
// algorithms/external/external_algorithm.h; registered by the binaries).
constexpr absl::string_view kExternalAlgorithm = "external";
// Integers beyond this are not all representable in a double.
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

using v1::ParameterSpec;

// Shortest text that reads back to the same double: "0.001", "3", "1e-05".
std::string Num(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

// User text in a message, quoted and shortened: a spec from an API can hold
// anything.
std::string Quote(absl::string_view text) {
  constexpr size_t kMax = 40;
  if (text.size() > kMax) {
    return absl::StrCat("'", text.substr(0, kMax), "...'");
  }
  return absl::StrCat("'", text, "'");
}

bool IsAsciiLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$
bool IsStudyName(absl::string_view name) {
  if (name.empty() || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || IsDigit(c) || c == '-')) return false;
  }
  return true;
}

// ^[A-Za-z_][A-Za-z0-9_]*$: parameter and environment variable names.
bool IsIdentifier(absl::string_view name) {
  if (name.empty() || IsDigit(name.front())) return false;
  for (char c : name) {
    if (!(IsAsciiLetter(c) || IsDigit(c) || c == '_')) return false;
  }
  return true;
}

// ^[A-Za-z_][A-Za-z0-9_.-]*$
bool IsMetricName(absl::string_view name) {
  if (name.empty() || !(IsAsciiLetter(name.front()) || name.front() == '_')) {
    return false;
  }
  for (char c : name) {
    if (!(IsAsciiLetter(c) || IsDigit(c) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

// HOST:PORT as gRPC dials it: a host name or IPv4 address (letters, digits,
// '.', '-', '_'), or an IPv6 address in brackets; a port from 1 to 65535.
bool IsHostPort(absl::string_view endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == absl::string_view::npos) return false;
  const absl::string_view host = endpoint.substr(0, colon);
  const absl::string_view port = endpoint.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  int number = 0;
  for (char c : port) {
    if (!IsDigit(c)) return false;
    number = number * 10 + (c - '0');
  }
  if (number < 1 || number > 65535) return false;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    for (char c : host.substr(1, host.size() - 2)) {
      if (!(IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
            c == ':' || c == '.')) {
        return false;
      }
    }
    return true;
  }
  if (host.empty()) return false;
  for (char c : host) {
    if (!(IsAsciiLetter(c) || IsDigit(c) || c == '.' || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

bool IsIntegral(double value) {
  return std::isfinite(value) && value == std::trunc(value);
}

class Validator {
 public:
  explicit Validator(const v1::StudySpec& spec) : spec_(spec) {}

  std::vector<SpecError> Run() {
    CheckName();
    CheckObjective();
    CheckParameters();
    CheckAlgorithm();
    CheckTrials();
    CheckWorker();
    ValidateCostSpec(spec_, errors_);
    CheckEarlyStopping();
    return std::move(errors_);
  }

 private:
  void Add(std::string path, std::string message) {
    errors_.push_back(SpecError{std::move(path), std::move(message)});
  }

  void CheckName() {
    const std::string& name = spec_.name();
    if (name.empty()) {
      Add("name", "required: lowercase letters, digits and '-'");
    } else if (!IsStudyName(name)) {
      Add("name", absl::StrCat(Quote(name),
                               " is not a study name: use lowercase letters, "
                               "digits and '-', starting and ending with a "
                               "letter or digit"));
    } else if (name.size() > kMaxStudyNameLength) {
      Add("name", absl::StrCat("must be at most ", kMaxStudyNameLength,
                               " characters (got ", name.size(), ")"));
    }
    if (spec_.description().size() > kMaxDescriptionBytes) {
      Add("description",
          absl::StrCat("must be at most ", kMaxDescriptionBytes, " bytes (got ",
                       spec_.description().size(), ")"));
    }
  }

  // Adds an error at `path` when `metric` is not a valid metric name.
  void CheckMetricName(const std::string& path, const std::string& metric) {
    if (!IsMetricName(metric)) {
      Add(path,
          absl::StrCat(Quote(metric),
                       " is not a metric name: use letters, digits, "
                       "'_', '.' and '-', starting with a letter or '_'"));
    } else if (metric == "step") {
      Add(path,
          "'step' is reserved: it numbers the measurements of a trial, so it "
          "cannot be a metric");
    } else if (metric.size() > kMaxMetricNameLength) {
      Add(path, absl::StrCat("must be at most ", kMaxMetricNameLength,
                             " characters (got ", metric.size(), ")"));
    }
  }

  void CheckObjective() {
    const v1::ObjectiveSpec& objective = spec_.objective();
    if (objective.metric().empty()) {
      Add("objective.metric", "required: the metric to optimise");
    } else {
      CheckMetricName("objective.metric", objective.metric());
    }
    if (objective.goal() != v1::ObjectiveSpec::MAXIMIZE &&
        objective.goal() != v1::ObjectiveSpec::MINIMIZE) {
      Add("objective.goal", "required: maximize or minimize");
    }
    if (objective.has_target() && !std::isfinite(objective.target())) {
      Add("objective.target", "must be a finite number");
    }
    std::set<std::string> seen;
    for (int i = 0; i < objective.additional_metrics_size(); ++i) {
      const std::string& metric = objective.additional_metrics(i);
      const std::string path =
          absl::StrCat("objective.additional_metrics[", i, "]");
      if (metric.empty()) {
        Add(path, "must not be empty");
        continue;
      }
      CheckMetricName(path, metric);
      if (metric == objective.metric()) {
        Add(path, absl::StrCat(Quote(metric),
                               " is the objective metric, which is always "
                               "recorded"));
      } else if (!seen.insert(metric).second) {
        Add(path, absl::StrCat(Quote(metric), " is listed twice"));
      }
    }
  }

  // Rules of a DOUBLE or INT parameter.
  void CheckRange(const ParameterSpec& p, const std::string& path) {
    const bool is_int = p.type() == ParameterSpec::INT;
    bool bounds_ok = true;
    for (const auto& [key, value] :
         {std::pair<const char*, double>{"min", p.min()}, {"max", p.max()}}) {
      if (!std::isfinite(value)) {
        Add(absl::StrCat(path, ".", key), "must be a finite number");
        bounds_ok = false;
      } else if (is_int && !IsIntegral(value)) {
        Add(absl::StrCat(path, ".", key),
            absl::StrCat("must be an integer for an int parameter (",
                         Num(value), ")"));
        bounds_ok = false;
      } else if (is_int && std::fabs(value) > kMaxExactInteger) {
        Add(absl::StrCat(path, ".", key),
            absl::StrCat("must lie within +/-2^53 for an int parameter (",
                         Num(value), ")"));
        bounds_ok = false;
      }
    }
    if (bounds_ok && p.max() <= p.min()) {
      Add(absl::StrCat(path, ".max"),
          absl::StrCat("must be greater than min (", Num(p.max()),
                       " <= ", Num(p.min()), ")"));
    }
    if (p.scale() == ParameterSpec::LOG) {
      for (const auto& [key, value] :
           {std::pair<const char*, double>{"min", p.min()}, {"max", p.max()}}) {
        if (std::isfinite(value) && value <= 0) {
          Add(absl::StrCat(path, ".", key),
              absl::StrCat("must be greater than 0 on a log scale (",
                           Num(value), ")"));
        }
      }
    }
    if (p.scale() != ParameterSpec::SCALE_UNSPECIFIED &&
        p.scale() != ParameterSpec::LINEAR && p.scale() != ParameterSpec::LOG) {
      Add(absl::StrCat(path, ".scale"), "must be linear or log");
    }
    if (p.has_grid_points() && p.grid_points() < 2) {
      Add(absl::StrCat(path, ".grid_points"),
          absl::StrCat("must be at least 2 (", p.grid_points(), ")"));
    }
    if (p.values_size() > 0 || p.categories_size() > 0) {
      Add(absl::StrCat(path, ".values"),
          "only discrete and categorical parameters take values");
    }
  }

  // Rules of a DISCRETE or CATEGORICAL parameter.
  void CheckList(const ParameterSpec& p, const std::string& path) {
    const std::string values_path = absl::StrCat(path, ".values");
    if (p.min() != 0 || p.max() != 0) {
      Add(absl::StrCat(path, p.min() != 0 ? ".min" : ".max"),
          "only double and int parameters take min and max; list the values");
    }
    if (p.scale() != ParameterSpec::SCALE_UNSPECIFIED) {
      Add(absl::StrCat(path, ".scale"),
          "only double and int parameters take a scale");
    }
    if (p.has_grid_points()) {
      Add(absl::StrCat(path, ".grid_points"),
          "only double and int parameters take grid_points; grid search "
          "visits every value of a list");
    }
    if (p.type() == ParameterSpec::DISCRETE) {
      if (p.categories_size() > 0) {
        Add(values_path, "a discrete parameter takes numbers");
      } else if (p.values_size() == 0) {
        Add(values_path, "must list at least one value");
      }
      for (int i = 0; i < p.values_size(); ++i) {
        const std::string item = absl::StrCat(values_path, "[", i, "]");
        const double value = p.values(i);
        if (!std::isfinite(value)) {
          Add(item, "must be a finite number");
        } else if (i > 0 && std::isfinite(p.values(i - 1))) {
          if (value == p.values(i - 1)) {
            Add(item, absl::StrCat("duplicates the previous value (",
                                   Num(value), ")"));
          } else if (value < p.values(i - 1)) {
            Add(item, absl::StrCat("must be greater than the previous value (",
                                   Num(value), " <= ", Num(p.values(i - 1)),
                                   "): list values in increasing order"));
          }
        }
      }
    } else {
      if (p.values_size() > 0) {
        Add(values_path, "a categorical parameter takes strings");
      } else if (p.categories_size() == 0) {
        Add(values_path, "must list at least one value");
      }
      std::set<std::string> seen;
      for (int i = 0; i < p.categories_size(); ++i) {
        const std::string item = absl::StrCat(values_path, "[", i, "]");
        const std::string& category = p.categories(i);
        if (category.empty()) {
          Add(item, "must not be empty");
        } else if (!seen.insert(category).second) {
          Add(item, absl::StrCat(Quote(category), " is listed twice"));
        }
      }
    }
  }

  void CheckParameters() {
    if (spec_.parameters_size() == 0) {
      Add("parameters", "required: at least one parameter");
      return;
    }
    const size_t errors_before = errors_.size();
    const bool grid = spec_.algorithm().name() == "grid";
    std::set<std::string> names;
    for (int i = 0; i < spec_.parameters_size(); ++i) {
      const ParameterSpec& p = spec_.parameters(i);
      const std::string path = absl::StrCat("parameters[", i, "]");
      if (p.name().empty()) {
        Add(path + ".name", "required");
      } else if (!IsIdentifier(p.name())) {
        Add(path + ".name",
            absl::StrCat(Quote(p.name()),
                         " is not a parameter name: use letters, digits and "
                         "'_', starting with a letter or '_'"));
      } else if (!names.insert(p.name()).second) {
        Add(path + ".name",
            absl::StrCat(Quote(p.name()),
                         " is the name of an earlier parameter"));
      }
      switch (p.type()) {
        case ParameterSpec::DOUBLE:
          CheckRange(p, path);
          if (grid && !p.has_grid_points()) {
            Add(path + ".grid_points",
                "required by grid search on a double parameter (at least 2)");
          }
          break;
        case ParameterSpec::INT:
          CheckRange(p, path);
          break;
        case ParameterSpec::DISCRETE:
        case ParameterSpec::CATEGORICAL:
          CheckList(p, path);
          break;
        default:
          Add(path + ".type", "required: double, int, discrete or categorical");
          break;
      }
    }
    parameters_valid_ = errors_.size() == errors_before;
  }

  void CheckAlgorithm() {
    const v1::AlgorithmSpec& algorithm = spec_.algorithm();
    const std::vector<std::string> known = algorithms::AlgorithmNames();
    if (algorithm.name().empty()) {
      Add("algorithm.name",
          absl::StrCat("required: one of ", absl::StrJoin(known, ", ")));
      return;
    }
    if (std::find(known.begin(), known.end(), algorithm.name()) ==
        known.end()) {
      Add("algorithm.name",
          absl::StrCat("unknown algorithm '", algorithm.name(),
                       "' (known: ", absl::StrJoin(known, ", "), ")"));
      return;
    }
    // The plug-in's address. The plug-in itself is not asked: building the
    // external algorithm does not contact it, so a study validates while its
    // plug-in is down, and the plug-in judges the settings on the first
    // suggestion.
    const bool external = algorithm.name() == kExternalAlgorithm;
    if (external && algorithm.endpoint().empty()) {
      Add("algorithm.endpoint",
          "required by the external algorithm: HOST:PORT of the process "
          "serving vernier.v1.AlgorithmPlugin (e.g. 127.0.0.1:7010)");
      return;
    }
    if (external && !IsHostPort(algorithm.endpoint())) {
      Add("algorithm.endpoint",
          absl::StrCat("must be HOST:PORT with a port from 1 to 65535, e.g. "
                       "127.0.0.1:7010 (not ",
                       Quote(algorithm.endpoint()), ")"));
      return;
    }
    if (!external && !algorithm.endpoint().empty()) {
      Add("algorithm.endpoint",
          absl::StrCat("only the external algorithm takes an endpoint (this "
                       "study's algorithm is ",
                       Quote(algorithm.name()), ")"));
    }
    // The algorithm judges its own settings, and it can only be built on a
    // valid space.
    if (!parameters_valid_) return;
    absl::StatusOr<algorithms::SearchSpace> space =
        algorithms::SearchSpace::Create(spec_.parameters());
    if (!space.ok()) {
      Add("parameters", std::string(space.status().message()));
      return;
    }
    algorithms::AlgorithmContext context{
        .space = *std::move(space),
        .objective = spec_.objective(),
        .seed = algorithm.seed(),
        .seed_given = algorithm.has_seed(),
        .settings = algorithm.settings(),
        .spec = spec_,
    };
    absl::StatusOr<std::unique_ptr<algorithms::Algorithm>> created =
        algorithms::CreateAlgorithm(algorithm.name(), context);
    if (created.ok()) return;
    const absl::string_view message = created.status().message();
    if (absl::IsNotFound(created.status())) {
      Add("algorithm.name", std::string(message));
      return;
    }
    if (AddSettingError("algorithm", message)) return;
    // "parameter 'x': too many integers" -> parameters[i].
    const size_t colon = message.find(": ");
    const absl::string_view head =
        colon == absl::string_view::npos ? "" : message.substr(0, colon);
    const std::string rest = colon == absl::string_view::npos
                                 ? ""
                                 : std::string(message.substr(colon + 2));
    for (int i = 0; i < spec_.parameters_size(); ++i) {
      if (head ==
          absl::StrCat("parameter '", spec_.parameters(i).name(), "'")) {
        Add(absl::StrCat("parameters[", i, "]"),
            absl::StrCat(rest, " (algorithm ", algorithm.name(), ")"));
        return;
      }
    }
    Add("algorithm", std::string(message));
  }

  // A factory's error about one setting, "settings.KEY: what", added at
  // "OWNER.settings.KEY"; false when `message` is about no setting.
  bool AddSettingError(absl::string_view owner, absl::string_view message) {
    const size_t colon = message.find(": ");
    if (colon == absl::string_view::npos) return false;
    const absl::string_view head = message.substr(0, colon);
    if (!absl::StartsWith(head, "settings") ||
        head.find(' ') != absl::string_view::npos) {
      return false;
    }
    Add(absl::StrCat(owner, ".", head), std::string(message.substr(colon + 2)));
    return true;
  }

  void CheckDuration(const std::string& path, bool present,
                     const google::protobuf::Duration& duration) {
    if (!present) return;
    const bool negative = duration.seconds() < 0 || duration.nanos() < 0;
    if (negative || (duration.seconds() == 0 && duration.nanos() == 0)) {
      Add(path, "must be greater than zero");
    } else if (duration.nanos() >= 1'000'000'000) {
      Add(path, "nanos must be less than one second");
    }
  }

  void CheckTrials() {
    const v1::TrialsSpec& trials = spec_.trials();
    if (trials.max() == 0) {
      Add("trials.max", "required: how many trials to run in all (at least 1)");
    } else if (trials.max() < 0) {
      Add("trials.max",
          absl::StrCat("must be at least 1 (", trials.max(), ")"));
    }
    if (trials.parallel() < 0) {
      Add("trials.parallel",
          absl::StrCat("must be at least 1 (", trials.parallel(), ")"));
    }
    if (trials.has_max_failed() && trials.max_failed() < 0) {
      Add("trials.max_failed",
          absl::StrCat("must be at least 0 (", trials.max_failed(), ")"));
    }
    if (trials.retries() < 0) {
      Add("trials.retries",
          absl::StrCat("must be at least 0 (", trials.retries(), ")"));
    }
    CheckDuration("trials.max_runtime", trials.has_max_runtime(),
                  trials.max_runtime());
    CheckDuration("trials.stop_grace", trials.has_stop_grace(),
                  trials.stop_grace());
  }

  // Adds an error at `path` for each ${params.X} in `text` that names no
  // parameter.
  void CheckReferences(const std::string& path, absl::string_view text) {
    for (const std::string& name : trial_runner::ReferencedParams(text)) {
      bool known = false;
      for (const ParameterSpec& p : spec_.parameters()) {
        known = known || p.name() == name;
      }
      if (known) continue;
      std::vector<std::string> names;
      for (const ParameterSpec& p : spec_.parameters()) {
        if (!p.name().empty() &&
            std::find(names.begin(), names.end(), p.name()) == names.end()) {
          names.push_back(p.name());
        }
      }
      Add(path,
          absl::StrCat("${params.", name, "} names no parameter",
                       names.empty()
                           ? ""
                           : absl::StrCat(" (parameters: ",
                                          absl::StrJoin(names, ", "), ")")));
    }
  }

  // A worker of kind none: nothing but the kind, since no process runs.
  void CheckNoWorker() {
    const v1::WorkerSpec& worker = spec_.worker();
    constexpr absl::string_view kWhy =
        "does not apply to a worker of kind none, which runs no process (a "
        "client drives the study through SuggestTrials and CompleteTrial)";
    if (worker.command_size() > 0) Add("worker.command", std::string(kWhy));
    if (!worker.working_dir().empty()) {
      Add("worker.working_dir", std::string(kWhy));
    }
    if (!worker.env().empty()) Add("worker.env", std::string(kWhy));
    if (worker.has_metrics()) Add("worker.metrics", std::string(kWhy));
    if (worker.has_kubernetes()) Add("worker.kubernetes", std::string(kWhy));
  }

  // A worker of kind kubernetes: its command is the container's, in its
  // image, and it reports over gRPC.
  void CheckKubernetesWorker() {
    const v1::WorkerSpec& worker = spec_.worker();
    if (worker.command_size() > 0) {
      Add("worker.command",
          "a kubernetes worker runs worker.kubernetes.command in its image; "
          "move the command there");
    }
    if (!worker.has_kubernetes()) {
      Add("worker.kubernetes",
          "required by a worker of kind kubernetes: namespace, image, "
          "command, report_endpoint, ...");
      return;
    }
    ValidateKubernetesWorker(
        worker.kubernetes(),
        [this](const std::string& path, absl::string_view text) {
          CheckReferences(path, text);
        },
        &errors_);
    const std::string& endpoint = worker.kubernetes().report_endpoint();
    if (!endpoint.empty() && !IsHostPort(endpoint)) {
      Add("worker.kubernetes.report_endpoint",
          absl::StrCat("must be HOST:PORT with a port from 1 to 65535, e.g. "
                       "vernier.ml-tuning.svc:7007 (not ",
                       Quote(endpoint), ")"));
    }
    CheckDuration("worker.kubernetes.pending_timeout",
                  worker.kubernetes().has_pending_timeout(),
                  worker.kubernetes().pending_timeout());
    CheckDuration("worker.kubernetes.ttl_after_finished",
                  worker.kubernetes().has_ttl_after_finished(),
                  worker.kubernetes().ttl_after_finished());
    if (worker.metrics().collector() != v1::MetricsSpec::PUSH) {
      Add("worker.metrics.collector",
          "must be push for a kubernetes worker: its pods report over gRPC");
    }
  }

  void CheckWorker() {
    const v1::WorkerSpec& worker = spec_.worker();
    if (worker.kind() == v1::WorkerSpec::NONE) {
      CheckNoWorker();
      return;
    }
    const bool kubernetes = worker.kind() == v1::WorkerSpec::KUBERNETES;
    if (kubernetes) {
      CheckKubernetesWorker();
    } else if (worker.kind() != v1::WorkerSpec::KIND_UNSPECIFIED &&
               worker.kind() != v1::WorkerSpec::LOCAL) {
      Add("worker.kind", "must be local, kubernetes or none");
    } else if (worker.has_kubernetes()) {
      Add("worker.kubernetes", "only a worker of kind kubernetes takes it");
    }
    if (kubernetes) {
      // Its command is worker.kubernetes.command, checked above.
    } else if (worker.command_size() == 0) {
      Add("worker.command",
          "required: the program and its arguments, as a list of strings");
    } else if (worker.command(0).empty()) {
      Add("worker.command[0]", "must name a program");
    }
    for (int i = 0; i < worker.command_size(); ++i) {
      CheckReferences(absl::StrCat("worker.command[", i, "]"),
                      worker.command(i));
    }
    if (!worker.working_dir().empty() && worker.working_dir().front() != '/') {
      Add("worker.working_dir", absl::StrCat("must be an absolute path ('",
                                             worker.working_dir(), "')"));
    }
    // Sorted, so that errors come in a stable order.
    const std::map<std::string, std::string> env(worker.env().begin(),
                                                 worker.env().end());
    for (const auto& [name, value] : env) {
      const std::string path = absl::StrCat("worker.env.", name);
      if (!IsIdentifier(name)) {
        Add(path, absl::StrCat(Quote(name),
                               " is not an environment variable name: use "
                               "letters, digits and '_', starting with a "
                               "letter or '_'"));
      } else if (absl::StartsWith(name, "VERNIER_")) {
        Add(path, "names starting with VERNIER_ are set by Vernier itself");
      }
      CheckReferences(path, value);
    }
    const v1::MetricsSpec::Collector collector = worker.metrics().collector();
    if (collector != v1::MetricsSpec::COLLECTOR_UNSPECIFIED &&
        collector != v1::MetricsSpec::STDOUT &&
        collector != v1::MetricsSpec::PUSH) {
      Add("worker.metrics.collector", "must be stdout or push");
    }
  }

  void CheckEarlyStopping() {
    if (!spec_.has_early_stopping()) return;
    const v1::EarlyStoppingSpec& early_stopping = spec_.early_stopping();
    const std::vector<std::string> known = algorithms::EarlyStoppingRuleNames();
    if (early_stopping.name().empty()) {
      Add("early_stopping.name",
          absl::StrCat("required: one of ", absl::StrJoin(known, ", ")));
      return;
    }
    if (spec_.worker().kind() == v1::WorkerSpec::NONE) {
      Add("early_stopping",
          "needs intermediate measurements (steps), and a study whose worker "
          "is of kind none gets final metrics only");
      return;
    }
    absl::StatusOr<std::unique_ptr<algorithms::EarlyStoppingRule>> rule =
        algorithms::CreateEarlyStoppingRule(
            early_stopping.name(), algorithms::EarlyStoppingContext{
                                       .objective = spec_.objective(),
                                       .settings = early_stopping.settings(),
                                   });
    if (rule.ok()) return;
    const absl::string_view message = rule.status().message();
    if (absl::IsNotFound(rule.status())) {
      Add("early_stopping.name", std::string(message));
      return;
    }
    if (AddSettingError("early_stopping", message)) return;
    Add("early_stopping.settings", std::string(message));
  }

  const v1::StudySpec& spec_;
  std::vector<SpecError> errors_;
  bool parameters_valid_ = false;
};

}  // namespace

std::vector<SpecError> ValidateStudySpec(const v1::StudySpec& spec) {
  return Validator(spec).Run();
}

}  // namespace vernier::controller
