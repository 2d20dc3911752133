#include "controller/kubernetes_validation.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "trial-runner/kubernetes/resource_requests.h"

namespace vernier::controller {
namespace {

constexpr absl::string_view kPath = "worker.kubernetes";

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A DNS-1123 label: ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$, at most 63 characters.
bool IsDnsLabel(absl::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// A resource name: [DNS-1123 subdomain "/"] name, the name of letters,
// digits, '-', '_' and '.' starting and ending alphanumeric.
bool IsResourceName(absl::string_view name) {
  const size_t slash = name.find('/');
  absl::string_view local = name;
  if (slash != absl::string_view::npos) {
    const absl::string_view prefix = name.substr(0, slash);
    if (prefix.empty() || prefix.size() > 253) return false;
    for (absl::string_view label : absl::StrSplit(prefix, '.')) {
      if (!IsDnsLabel(label)) return false;
    }
    local = name.substr(slash + 1);
  }
  if (local.empty() || local.size() > 63) return false;
  if (!absl::ascii_isalnum(local.front()) ||
      !absl::ascii_isalnum(local.back())) {
    return false;
  }
  for (char c : local) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

class KubernetesValidator {
 public:
  KubernetesValidator(const v1::KubernetesWorkerSpec& spec,
                      const ReferenceCheck& check_references,
                      std::vector<SpecError>* errors)
      : spec_(spec), check_references_(check_references), errors_(errors) {}

  void Run() {
    if (spec_.namespace_().empty()) {
      Add("namespace", "required: the namespace the trials' Jobs go to");
    } else if (!IsDnsLabel(spec_.namespace_())) {
      Add("namespace",
          absl::StrCat("'", spec_.namespace_(),
                       "' is not a namespace name: lowercase letters, digits "
                       "and '-', at most 63, starting and ending with a "
                       "letter or digit"));
    }
    if (spec_.image().empty()) {
      if (!TemplateHasImage()) {
        Add("image", "required: the container image the trials run");
      }
    } else if (spec_.image().find_first_of(" \t\n") != std::string::npos) {
      Add("image", "must not contain whitespace");
    }
    if (spec_.report_endpoint().empty()) {
      Add("report_endpoint",
          "required: HOST:PORT at which pods reach the server's gRPC port "
          "(e.g. vernier.ml-tuning.svc:7007)");
    }
    if (spec_.command_size() > 0 && spec_.command(0).empty()) {
      Add("command[0]", "must name a program");
    }
    for (int i = 0; i < spec_.command_size(); ++i) {
      check_references_(Path(absl::StrCat("command[", i, "]")),
                        spec_.command(i));
    }
    // Sorted, so that errors come in a stable order.
    const std::map<std::string, std::string> resources(
        spec_.resources().begin(), spec_.resources().end());
    for (const auto& [name, quantity] : resources) {
      const std::string path = absl::StrCat("resources.", name);
      if (!IsResourceName(name)) {
        Add(path, absl::StrCat("'", name,
                               "' is not a resource name (cpu, memory, "
                               "nvidia.com/gpu, ...)"));
      } else if (!kubernetes::ParseQuantity(quantity).ok()) {
        Add(path, absl::StrCat("'", quantity,
                               "' is not a Kubernetes quantity (4, 500m, "
                               "16Gi, 1e3, ...)"));
      }
    }
    if (spec_.has_job_template()) CheckTemplate();
  }

 private:
  static std::string Path(absl::string_view field) {
    return absl::StrCat(kPath, ".", field);
  }
  void Add(absl::string_view field, std::string message) {
    errors_->push_back(SpecError{Path(field), std::move(message)});
  }

  // The pod template inside job_template: spec.template (a Job) or the
  // mapping itself (a pod template, with spec.containers).
  const google::protobuf::Struct* PodTemplate(std::string* path) const {
    const google::protobuf::Struct& job = spec_.job_template();
    const auto spec = job.fields().find("spec");
    if (spec == job.fields().end() || !spec->second.has_struct_value()) {
      return nullptr;
    }
    const auto& spec_fields = spec->second.struct_value().fields();
    const auto pod = spec_fields.find("template");
    if (pod != spec_fields.end() && pod->second.has_struct_value()) {
      *path = "job_template.spec.template";
      return &pod->second.struct_value();
    }
    *path = "job_template";
    return &job;
  }

  // The first container of the template, or nullptr.
  const google::protobuf::Struct* FirstContainer() const {
    std::string path;
    const google::protobuf::Struct* pod = PodTemplate(&path);
    if (pod == nullptr) return nullptr;
    const auto spec = pod->fields().find("spec");
    if (spec == pod->fields().end() || !spec->second.has_struct_value()) {
      return nullptr;
    }
    const auto& fields = spec->second.struct_value().fields();
    const auto containers = fields.find("containers");
    if (containers == fields.end() || !containers->second.has_list_value() ||
        containers->second.list_value().values_size() == 0 ||
        !containers->second.list_value().values(0).has_struct_value()) {
      return nullptr;
    }
    return &containers->second.list_value().values(0).struct_value();
  }

  bool TemplateHasImage() const {
    const google::protobuf::Struct* container = FirstContainer();
    if (container == nullptr) return false;
    const auto image = container->fields().find("image");
    return image != container->fields().end() &&
           image->second.has_string_value() &&
           !image->second.string_value().empty();
  }

  void CheckTemplate() {
    const google::protobuf::Struct& job = spec_.job_template();
    const auto text = [&](absl::string_view key) -> std::string {
      const auto it = job.fields().find(std::string(key));
      return it == job.fields().end() ? "" : it->second.string_value();
    };
    if (job.fields().contains("kind") && text("kind") != "Job") {
      Add("job_template.kind",
          absl::StrCat("must be Job (or leave kind out for a pod template), "
                       "not '",
                       text("kind"), "'"));
    }
    if (job.fields().contains("apiVersion") &&
        text("apiVersion") != "batch/v1") {
      Add("job_template.apiVersion",
          absl::StrCat("must be batch/v1, not '", text("apiVersion"), "'"));
    }
    if (FirstContainer() == nullptr) {
      std::string path;
      PodTemplate(&path);
      Add(path.empty() ? "job_template" : path,
          "must hold spec.containers, a list whose first container the "
          "trial runs in (a Job's is under spec.template)");
    }
    CheckStrings(Path("job_template"), job);
  }

  void CheckStrings(const std::string& path,
                    const google::protobuf::Struct& object) {
    for (const auto& [key, value] : object.fields()) {
      CheckStrings(absl::StrCat(path, ".", key), value);
    }
  }
  void CheckStrings(const std::string& path,
                    const google::protobuf::Value& value) {
    if (value.has_string_value()) {
      check_references_(path, value.string_value());
    } else if (value.has_struct_value()) {
      CheckStrings(path, value.struct_value());
    } else if (value.has_list_value()) {
      for (int i = 0; i < value.list_value().values_size(); ++i) {
        CheckStrings(absl::StrCat(path, "[", i, "]"),
                     value.list_value().values(i));
      }
    }
  }

  const v1::KubernetesWorkerSpec& spec_;
  const ReferenceCheck& check_references_;
  std::vector<SpecError>* errors_;
};

}  // namespace

void ValidateKubernetesWorker(const v1::KubernetesWorkerSpec& spec,
                              const ReferenceCheck& check_references,
                              std::vector<SpecError>* errors) {
  KubernetesValidator(spec, check_references, errors).Run();
}

}  // namespace vernier::controller
