#include "controller/study_yaml.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "controller/yaml_reader.h"
#include "google/protobuf/stubs/common.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace vernier::controller {
namespace {

// Where the second YAML document of `yaml_text` starts, if it has one.
// Not YAML::LoadAll: yaml-cpp 0.7's LoadAll never returns on some malformed
// texts (a lone ',' yields empty documents forever, found by
// fuzz_study_yaml); this asks the parser for two documents at most.
// Throws YAML::Exception on a syntax error, as the parser does.
std::optional<YAML::Mark> SecondDocument(const std::string& yaml_text) {
  // Notes where each document's first node is (or its start, when empty).
  class DocumentStarts final : public YAML::EventHandler {
   public:
    std::vector<YAML::Mark> marks;
    void OnDocumentStart(const YAML::Mark& mark) override {
      marks.push_back(mark);
      at_start_ = true;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
      Node(mark);
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
      Node(mark);
    }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
      Node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&,
                         YAML::anchor_t, YAML::EmitterStyle::value) override {
      Node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
      Node(mark);
    }
    void OnMapEnd() override {}

   private:
    void Node(const YAML::Mark& mark) {
      if (at_start_) marks.back() = mark;
      at_start_ = false;
    }
    bool at_start_ = false;
  } starts;
  std::istringstream input(yaml_text);
  YAML::Parser parser(input);
  for (int i = 0; i < 2 && parser.HandleNextDocument(starts); ++i) {
  }
  if (starts.marks.size() < 2) return std::nullopt;
  return starts.marks[1];
}

using v1::ParameterSpec;

// The placeholder of a malformed number: the validator skips non-finite
// values that already carry an error.
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The error for text that is not UTF-8, at its first bad byte; nullopt for
// UTF-8. The check is protobuf's own, which a string field must pass to be
// stored and read back.
std::optional<SpecError> NotUtf8(absl::string_view text) {
  const size_t valid = google::protobuf::internal::UTF8SpnStructurallyValid(
      google::protobuf::StringPiece(text.data(), text.size()));
  if (valid == text.size()) return std::nullopt;
  const absl::string_view before = text.substr(0, valid);
  const size_t line_start = before.rfind('\n');
  const int line =
      1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  const int column = 1 + static_cast<int>(line_start == absl::string_view::npos
                                              ? valid
                                              : valid - line_start - 1);
  return SpecError{
      "",
      absl::StrCat(
          "not UTF-8 (byte 0x",
          absl::Hex(static_cast<unsigned char>(text[valid]), absl::kZeroPad2),
          "): save the study as UTF-8"),
      line, column};
}

// Walks the YAML tree once: fills the spec with defaults and what the user
// wrote, and reports shape problems (unknown keys, wrong types, unknown
// names, malformed durations) with their positions. Then runs the
// validator on the spec and places its errors in the YAML.
class Loader {
 public:
  explicit Loader(std::filesystem::path base_dir)
      : base_dir_(std::move(base_dir)) {}

  LoadedStudy Load(absl::string_view yaml_text);

 private:
  void Study(const YAML::Node& root, v1::StudySpec* spec);
  void Objective(const YAML::Node& node, v1::ObjectiveSpec* out);
  void Algorithm(const YAML::Node& node, v1::AlgorithmSpec* out);
  void Parameters(const YAML::Node& node, v1::StudySpec* spec);
  void Parameter(const YAML::Node& node, const std::string& path,
                 ParameterSpec* out);
  void Trials(const YAML::Node& node, v1::TrialsSpec* out);
  void Worker(const YAML::Node& node, v1::WorkerSpec* out);
  void WorkerResources(YamlReader::Fields& fields, v1::WorkerSpec* out);
  void Budget(const YAML::Node& node, v1::BudgetSpec* out);
  void Labels(const YAML::Node& node, v1::StudySpec* spec);
  // A plain number at parent.key, when present.
  std::optional<double> NumberField(YamlReader::Fields& fields,
                                    const std::string& parent,
                                    absl::string_view key);
  // A plain integer >= `min` at parent.key, when present.
  std::optional<int> IntegerField(YamlReader::Fields& fields,
                                  const std::string& parent,
                                  absl::string_view key, int64_t min);
  void EarlyStopping(const YAML::Node& node, v1::EarlyStoppingSpec* out);
  void Kubernetes(const YAML::Node& node, v1::KubernetesWorkerSpec* out);
  // The scalars of the list at `path` (a malformed item is kept as "").
  void StringList(const YAML::Node& node, const std::string& path,
                  absl::string_view example,
                  google::protobuf::RepeatedPtrField<std::string>* out);
  // `dir` made absolute against base_dir_ and normalised.
  std::string ResolveDir(absl::string_view dir) const;

  const std::filesystem::path base_dir_;
  YamlReader reader_;
};

std::string Loader::ResolveDir(absl::string_view dir) const {
  std::filesystem::path path(std::string{dir});
  if (path.is_relative()) path = base_dir_ / path;
  std::string normal = path.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

void Loader::Study(const YAML::Node& root, v1::StudySpec* spec) {
  YamlReader::Fields fields =
      reader_.Mapping(root, "",
                      {"name", "description", "objective", "algorithm",
                       "parameters", "trials", "worker", "budget", "labels",
                       "early_stopping"});
  if (auto name = reader_.String(fields, "", "name")) spec->set_name(*name);
  if (auto description = reader_.String(fields, "", "description")) {
    spec->set_description(*description);
  }
  if (fields.contains("objective")) {
    Objective(fields["objective"], spec->mutable_objective());
  }
  Algorithm(fields.contains("algorithm") ? fields["algorithm"] : YAML::Node(),
            spec->mutable_algorithm());
  if (fields.contains("parameters")) Parameters(fields["parameters"], spec);
  spec->mutable_trials()->set_parallel(1);
  if (fields.contains("trials")) {
    Trials(fields["trials"], spec->mutable_trials());
  }
  Worker(fields.contains("worker") ? fields["worker"] : YAML::Node(),
         spec->mutable_worker());
  if (fields.contains("budget")) {
    Budget(fields["budget"], spec->mutable_budget());
  }
  if (fields.contains("labels")) Labels(fields["labels"], spec);
  if (fields.contains("early_stopping")) {
    EarlyStopping(fields["early_stopping"], spec->mutable_early_stopping());
  }
}

std::optional<double> Loader::NumberField(YamlReader::Fields& fields,
                                          const std::string& parent,
                                          absl::string_view key) {
  auto it = fields.find(std::string(key));
  if (it == fields.end()) return std::nullopt;
  return reader_.Number(it->second, JoinPath(parent, key));
}

std::optional<int> Loader::IntegerField(YamlReader::Fields& fields,
                                        const std::string& parent,
                                        absl::string_view key, int64_t min) {
  auto it = fields.find(std::string(key));
  if (it == fields.end()) return std::nullopt;
  std::optional<int64_t> value =
      reader_.Integer(it->second, JoinPath(parent, key), min);
  if (!value) return std::nullopt;
  return static_cast<int>(*value);
}

void Loader::Budget(const YAML::Node& node, v1::BudgetSpec* out) {
  const std::string path = "budget";
  YamlReader::Fields fields =
      reader_.Mapping(node, path, {"max_cost", "currency", "on_exhausted"});
  if (auto max_cost = NumberField(fields, path, "max_cost")) {
    out->set_max_cost(*max_cost);
  }
  out->set_currency(reader_.String(fields, path, "currency").value_or("USD"));
  out->set_on_exhausted(
      reader_
          .EnumValue<v1::BudgetSpec::OnExhausted>(
              fields, path, "on_exhausted",
              {{"stop", v1::BudgetSpec::STOP},
               {"drain", v1::BudgetSpec::DRAIN}})
          .value_or(v1::BudgetSpec::STOP));
}

void Loader::Labels(const YAML::Node& node, v1::StudySpec* spec) {
  const std::string path = "labels";
  for (const auto& [key, value] : reader_.Mapping(node, path, {})) {
    const std::string value_path = JoinPath(path, key);
    if (value.IsNull()) {
      (*spec->mutable_labels())[key] = "";
    } else if (value.IsScalar()) {
      (*spec->mutable_labels())[key] = value.Scalar();
    } else {
      reader_.Error(value_path, value.Mark(),
                    absl::StrCat("must be a string or number, not ",
                                 DescribeNode(value)));
    }
  }
}

void Loader::WorkerResources(YamlReader::Fields& fields, v1::WorkerSpec* out) {
  const std::string path = "worker";
  if (auto gpus = IntegerField(fields, path, "gpus_per_trial", 0)) {
    out->set_gpus_per_trial(*gpus);
  }
  if (auto cpus = IntegerField(fields, path, "cpus_per_trial", 0)) {
    out->set_cpus_per_trial(*cpus);
  }
  if (auto memory = NumberField(fields, path, "memory_gb_per_trial")) {
    out->set_memory_gb_per_trial(*memory);
  }
  if (fields.contains("gpus")) {
    const std::string gpus_path = JoinPath(path, "gpus");
    const YAML::Node& gpus = fields["gpus"];
    if (gpus.IsScalar() && gpus.Scalar() == "auto") {
      out->clear_gpus();
    } else if (reader_.IsList(gpus, gpus_path, "auto, or [0, 1]")) {
      int i = 0;
      for (const YAML::Node& item : gpus) {
        const std::string item_path = IndexPath(gpus_path, i++);
        reader_.Record(item_path, item.Mark());
        out->add_gpus(reader_.ScalarText(item, item_path).value_or(""));
      }
    }
  }
  if (fields.contains("pricing")) {
    const std::string pricing_path = JoinPath(path, "pricing");
    YamlReader::Fields prices = reader_.Mapping(
        fields["pricing"], pricing_path,
        {"gpu_hour", "cpu_hour", "memory_gb_hour", "instance_hour"});
    v1::PricingSpec* pricing = out->mutable_pricing();
    if (auto price = NumberField(prices, pricing_path, "gpu_hour")) {
      pricing->set_gpu_hour(*price);
    }
    if (auto price = NumberField(prices, pricing_path, "cpu_hour")) {
      pricing->set_cpu_hour(*price);
    }
    if (auto price = NumberField(prices, pricing_path, "memory_gb_hour")) {
      pricing->set_memory_gb_hour(*price);
    }
    if (auto price = NumberField(prices, pricing_path, "instance_hour")) {
      pricing->set_instance_hour(*price);
    }
  }
}

void Loader::Objective(const YAML::Node& node, v1::ObjectiveSpec* out) {
  const std::string path = "objective";
  YamlReader::Fields fields = reader_.Mapping(
      node, path,
      {"metric", "goal", "target", "additional_metrics", "count_stopped"});
  if (auto metric = reader_.String(fields, path, "metric")) {
    out->set_metric(*metric);
  }
  if (auto goal = reader_.EnumValue<v1::ObjectiveSpec::Goal>(
          fields, path, "goal",
          {{"maximize", v1::ObjectiveSpec::MAXIMIZE},
           {"minimize", v1::ObjectiveSpec::MINIMIZE}})) {
    out->set_goal(*goal);
  }
  if (fields.contains("target")) {
    out->set_target(reader_.Number(fields["target"], JoinPath(path, "target"))
                        .value_or(kNaN));
  }
  if (auto count_stopped = reader_.EnumValue<bool>(
          fields, path, "count_stopped", {{"true", true}, {"false", false}})) {
    out->set_count_stopped(*count_stopped);
  }
  if (fields.contains("additional_metrics")) {
    const std::string list_path = JoinPath(path, "additional_metrics");
    const YAML::Node& list = fields["additional_metrics"];
    if (reader_.IsList(list, list_path, "[loss, fit_seconds]")) {
      int i = 0;
      for (const YAML::Node& item : list) {
        reader_.Record(IndexPath(list_path, i), item.Mark());
        out->add_additional_metrics(
            reader_.ScalarText(item, IndexPath(list_path, i)).value_or(""));
        ++i;
      }
    }
  }
}

void Loader::Algorithm(const YAML::Node& node, v1::AlgorithmSpec* out) {
  const std::string path = "algorithm";
  YamlReader::Fields fields;
  if (node.IsDefined() && !node.IsNull()) {
    fields =
        reader_.Mapping(node, path, {"name", "seed", "settings", "endpoint"});
  }
  out->set_name(reader_.String(fields, path, "name").value_or("random"));
  if (auto endpoint = reader_.String(fields, path, "endpoint")) {
    out->set_endpoint(*endpoint);
  }
  if (fields.contains("seed")) {
    if (auto seed = reader_.Unsigned(fields["seed"], JoinPath(path, "seed"))) {
      out->set_seed(*seed);
    }
  }
  if (fields.contains("settings")) {
    if (auto settings = reader_.FreeFormStruct(fields["settings"],
                                               JoinPath(path, "settings"))) {
      *out->mutable_settings() = *std::move(settings);
    }
  }
}

void Loader::Parameters(const YAML::Node& node, v1::StudySpec* spec) {
  if (!reader_.IsList(node, "parameters",
                      "[{name: lr, type: double, min: 0.001, max: 0.1}]")) {
    return;
  }
  int i = 0;
  for (const YAML::Node& item : node) {
    const std::string path = IndexPath("parameters", i++);
    reader_.Record(path, item.Mark());
    Parameter(item, path, spec->add_parameters());
  }
}

void Loader::Parameter(const YAML::Node& node, const std::string& path,
                       ParameterSpec* out) {
  YamlReader::Fields fields = reader_.Mapping(
      node, path,
      {"name", "type", "min", "max", "scale", "values", "grid_points"});
  if (auto name = reader_.String(fields, path, "name")) out->set_name(*name);
  const std::optional<ParameterSpec::Type> type =
      reader_.EnumValue<ParameterSpec::Type>(
          fields, path, "type",
          {{"double", ParameterSpec::DOUBLE},
           {"int", ParameterSpec::INT},
           {"discrete", ParameterSpec::DISCRETE},
           {"categorical", ParameterSpec::CATEGORICAL}});
  if (!type) {
    // Without a type the other keys cannot be read; the validator asks for
    // the type when it is missing.
    if (fields.contains("type")) reader_.Poison(path);
    return;
  }
  out->set_type(*type);
  const bool is_range =
      *type == ParameterSpec::DOUBLE || *type == ParameterSpec::INT;
  const auto keys =
      is_range ? std::vector<absl::string_view>{"name", "type",  "min",
                                                "max",  "scale", "grid_points"}
               : std::vector<absl::string_view>{"name", "type", "values"};
  for (const auto& [key, value] : fields) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    reader_.Error(
        JoinPath(path, key), value.Mark(),
        absl::StrCat(key, " does not apply to ", fields.at("type").Scalar(),
                     " parameters (their keys: ", absl::StrJoin(keys, ", "),
                     ")"));
  }
  if (is_range) {
    // A malformed bound becomes NaN, which the validator leaves to this
    // error rather than comparing it with the other bound.
    for (absl::string_view key : {"min", "max"}) {
      auto it = fields.find(std::string(key));
      if (it == fields.end()) continue;
      const double value =
          reader_.Number(it->second, JoinPath(path, key)).value_or(kNaN);
      key == "min" ? out->set_min(value) : out->set_max(value);
    }
    if (auto scale = reader_.EnumValue<ParameterSpec::Scale>(
            fields, path, "scale",
            {{"linear", ParameterSpec::LINEAR}, {"log", ParameterSpec::LOG}})) {
      out->set_scale(*scale);
    }
    if (fields.contains("grid_points")) {
      if (auto points = reader_.Integer(fields["grid_points"],
                                        JoinPath(path, "grid_points"),
                                        std::numeric_limits<int32_t>::min())) {
        out->set_grid_points(static_cast<int32_t>(*points));
      }
    }
    return;
  }
  if (!fields.contains("values")) return;
  const std::string values_path = JoinPath(path, "values");
  const bool discrete = *type == ParameterSpec::DISCRETE;
  if (!reader_.IsList(fields["values"], values_path,
                      discrete ? "[32, 64, 128]" : "[rbf, poly]")) {
    return;
  }
  // A malformed item keeps its index (as NaN or "") so that later paths
  // still match the YAML.
  int i = 0;
  for (const YAML::Node& item : fields["values"]) {
    const std::string item_path = IndexPath(values_path, i++);
    reader_.Record(item_path, item.Mark());
    if (discrete) {
      out->add_values(reader_.Number(item, item_path).value_or(kNaN));
    } else {
      out->add_categories(reader_.ScalarText(item, item_path).value_or(""));
    }
  }
}

void Loader::Trials(const YAML::Node& node, v1::TrialsSpec* out) {
  const std::string path = "trials";
  YamlReader::Fields fields =
      reader_.Mapping(node, path,
                      {"max", "parallel", "max_failed", "max_runtime",
                       "retries", "stop_grace"});
  auto integer = [&](absl::string_view key, int64_t min) {
    return IntegerField(fields, path, key, min);
  };
  if (auto max = integer("max", 1)) out->set_max(*max);
  if (auto parallel = integer("parallel", 1)) out->set_parallel(*parallel);
  if (auto max_failed = integer("max_failed", 0)) {
    out->set_max_failed(*max_failed);
  }
  if (auto retries = integer("retries", 0)) out->set_retries(*retries);
  if (auto runtime = reader_.DurationField(fields, path, "max_runtime")) {
    *out->mutable_max_runtime() = *runtime;
  }
  if (auto grace = reader_.DurationField(fields, path, "stop_grace")) {
    *out->mutable_stop_grace() = *grace;
  }
}

void Loader::Worker(const YAML::Node& node, v1::WorkerSpec* out) {
  const std::string path = "worker";
  YamlReader::Fields fields;
  if (node.IsDefined() && !node.IsNull()) {
    fields = reader_.Mapping(
        node, path,
        {"kind", "command", "working_dir", "env", "metrics", "kubernetes",
         "gpus_per_trial", "gpus", "cpus_per_trial", "memory_gb_per_trial",
         "pricing"});
  }
  WorkerResources(fields, out);
  out->set_kind(reader_
                    .EnumValue<v1::WorkerSpec::Kind>(
                        fields, path, "kind",
                        {{"local", v1::WorkerSpec::LOCAL},
                         {"none", v1::WorkerSpec::NONE},
                         {"kubernetes", v1::WorkerSpec::KUBERNETES}})
                    .value_or(v1::WorkerSpec::LOCAL));
  // A worker of kind none runs nothing: it gets no defaults, and whatever the
  // user wrote is kept so that the validator can refuse it.
  if (out->kind() == v1::WorkerSpec::LOCAL) {
    out->mutable_metrics()->set_collector(v1::MetricsSpec::STDOUT);
    out->set_working_dir(ResolveDir("."));
  }
  // A pod reports over gRPC; its working_dir is a path in its image.
  const bool kubernetes = out->kind() == v1::WorkerSpec::KUBERNETES;
  if (kubernetes) {
    out->mutable_metrics()->set_collector(v1::MetricsSpec::PUSH);
  }
  if (fields.contains("kubernetes")) {
    Kubernetes(fields["kubernetes"], out->mutable_kubernetes());
  }
  if (fields.contains("command")) {
    StringList(fields["command"], JoinPath(path, "command"),
               "[python3, train.py, \"--lr=${params.lr}\"]",
               out->mutable_command());
  }
  if (auto dir = reader_.String(fields, path, "working_dir")) {
    out->set_working_dir(kubernetes ? *dir : ResolveDir(*dir));
  }
  if (fields.contains("env")) {
    const std::string env_path = JoinPath(path, "env");
    for (const auto& [name, value] :
         reader_.Mapping(fields["env"], env_path, {})) {
      const std::string value_path = JoinPath(env_path, name);
      if (value.IsNull()) {
        (*out->mutable_env())[name] = "";
      } else if (value.IsScalar()) {
        (*out->mutable_env())[name] = value.Scalar();
      } else {
        reader_.Error(value_path, value.Mark(),
                      absl::StrCat("must be a string or number, not ",
                                   DescribeNode(value)));
      }
    }
  }
  if (fields.contains("metrics")) {
    const std::string metrics_path = JoinPath(path, "metrics");
    out->mutable_metrics();
    YamlReader::Fields metrics =
        reader_.Mapping(fields["metrics"], metrics_path, {"collector"});
    if (auto collector = reader_.EnumValue<v1::MetricsSpec::Collector>(
            metrics, metrics_path, "collector",
            {{"stdout", v1::MetricsSpec::STDOUT},
             {"push", v1::MetricsSpec::PUSH}})) {
      out->mutable_metrics()->set_collector(*collector);
    }
  }
}

void Loader::EarlyStopping(const YAML::Node& node, v1::EarlyStoppingSpec* out) {
  const std::string path = "early_stopping";
  YamlReader::Fields fields = reader_.Mapping(node, path, {"name", "settings"});
  if (auto name = reader_.String(fields, path, "name")) out->set_name(*name);
  if (fields.contains("settings")) {
    if (auto settings = reader_.FreeFormStruct(fields["settings"],
                                               JoinPath(path, "settings"))) {
      *out->mutable_settings() = *std::move(settings);
    }
  }
}

void Loader::StringList(const YAML::Node& node, const std::string& path,
                        absl::string_view example,
                        google::protobuf::RepeatedPtrField<std::string>* out) {
  if (!reader_.IsList(node, path, example)) return;
  int i = 0;
  for (const YAML::Node& item : node) {
    const std::string item_path = IndexPath(path, i++);
    reader_.Record(item_path, item.Mark());
    out->Add(reader_.ScalarText(item, item_path).value_or(""));
  }
}

void Loader::Kubernetes(const YAML::Node& node, v1::KubernetesWorkerSpec* out) {
  const std::string path = "worker.kubernetes";
  YamlReader::Fields fields = reader_.Mapping(
      node, path,
      {"namespace", "context", "image", "command", "resources", "job_template",
       "report_endpoint", "pending_timeout", "ttl_after_finished"});
  if (auto text = reader_.String(fields, path, "namespace")) {
    out->set_namespace_(*text);
  }
  if (auto text = reader_.String(fields, path, "context")) {
    out->set_context(*text);
  }
  if (auto text = reader_.String(fields, path, "image")) out->set_image(*text);
  if (auto text = reader_.String(fields, path, "report_endpoint")) {
    out->set_report_endpoint(*text);
  }
  if (fields.contains("command")) {
    StringList(fields["command"], JoinPath(path, "command"),
               "[python, train.py, \"--lr=${params.lr}\"]",
               out->mutable_command());
  }
  if (fields.contains("resources")) {
    const std::string resources_path = JoinPath(path, "resources");
    for (const auto& [name, value] :
         reader_.Mapping(fields["resources"], resources_path, {})) {
      if (value.IsScalar()) {
        (*out->mutable_resources())[name] = value.Scalar();
      } else {
        reader_.Error(JoinPath(resources_path, name), value.Mark(),
                      absl::StrCat("must be a quantity such as 4, 500m or "
                                   "16Gi, not ",
                                   DescribeNode(value)));
      }
    }
  }
  if (fields.contains("job_template")) {
    if (auto job = reader_.FreeFormStruct(fields["job_template"],
                                          JoinPath(path, "job_template"))) {
      *out->mutable_job_template() = *std::move(job);
    }
  }
  if (auto timeout = reader_.DurationField(fields, path, "pending_timeout")) {
    *out->mutable_pending_timeout() = *timeout;
  }
  if (auto ttl = reader_.DurationField(fields, path, "ttl_after_finished")) {
    *out->mutable_ttl_after_finished() = *ttl;
  }
}

LoadedStudy Loader::Load(absl::string_view yaml_text) {
  LoadedStudy loaded;
  if (yaml_text.size() > kMaxStudyYamlBytes) {
    loaded.errors.push_back(SpecError{
        "",
        absl::StrCat("the study YAML is ", yaml_text.size(), " bytes; at most ",
                     kMaxStudyYamlBytes, " are read"),
        1, 1});
    return loaded;
  }
  if (std::optional<SpecError> error = NotUtf8(yaml_text)) {
    loaded.errors.push_back(*std::move(error));
    return loaded;
  }
  YAML::Node root;
  std::optional<YAML::Mark> second_document;
  try {
    const std::string text(yaml_text);
    root = YAML::Load(text);
    second_document = SecondDocument(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp says only "bad file" here.
    loaded.errors.push_back(
        SpecError{"", "YAML syntax error: nested more than 2000 levels deep",
                  e.mark.is_null() ? 0 : e.mark.line + 1,
                  e.mark.is_null() ? 0 : e.mark.column + 1});
    return loaded;
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    const int column = e.mark.is_null() ? 0 : e.mark.column + 1;
    std::string message = absl::StrCat("YAML syntax error: ", e.msg);
    if (LineIndentedWithTab(yaml_text, line)) {
      absl::StrAppend(&message, " (YAML is indented with spaces, not tabs)");
    }
    loaded.errors.push_back(SpecError{"", std::move(message), line, column});
    return loaded;
  }
  if (root.IsNull()) {
    loaded.errors.push_back(SpecError{"", "the study is empty", 1, 1});
    return loaded;
  }
  if (second_document.has_value()) {
    reader_.ErrorAt(
        "", *second_document,
        "only one YAML document (study) is allowed; remove the '---'");
  }
  reader_.Record("", root.Mark());
  try {
    Study(root, &loaded.spec);
  } catch (const YAML::Exception& e) {
    reader_.ErrorAt("", e.mark, absl::StrCat("YAML error: ", e.msg));
  }
  std::vector<SpecError> errors = reader_.TakeErrors();
  // A study that is not a mapping has no fields to validate.
  if (root.IsMap()) {
    for (SpecError& error : ValidateStudySpec(loaded.spec)) {
      if (reader_.IsPoisoned(error.path)) continue;
      const YamlReader::Position position = reader_.PositionOf(error.path);
      error.line = position.line;
      error.column = position.column;
      errors.push_back(std::move(error));
    }
  }
  std::stable_sort(
      errors.begin(), errors.end(), [](const SpecError& a, const SpecError& b) {
        return std::pair(a.line, a.column) < std::pair(b.line, b.column);
      });
  loaded.errors = std::move(errors);
  return loaded;
}

}  // namespace

std::string SpecError::ToString() const {
  std::string text;
  if (line > 0) absl::StrAppend(&text, line, ":", column, ": ");
  if (!path.empty()) absl::StrAppend(&text, path, ": ");
  absl::StrAppend(&text, message);
  return text;
}

LoadedStudy LoadStudyYaml(absl::string_view yaml_text,
                          absl::string_view base_dir) {
  std::filesystem::path base(std::string{base_dir});
  std::error_code error;
  if (base.is_relative()) base = std::filesystem::absolute(base, error);
  return Loader(base).Load(yaml_text);
}

absl::Status SpecErrorsToStatus(const std::vector<SpecError>& errors,
                                absl::string_view source) {
  if (errors.empty()) return absl::OkStatus();
  std::vector<std::string> lines;
  lines.reserve(errors.size());
  for (const SpecError& error : errors) {
    if (source.empty()) {
      lines.push_back(error.ToString());
    } else {
      lines.push_back(
          absl::StrCat(source, error.line > 0 ? "" : " ", error.ToString()));
    }
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

}  // namespace vernier::controller
