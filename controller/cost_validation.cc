#include "controller/cost_validation.h"

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "controller/cost_ledger.h"

namespace vernier::controller {
namespace {

constexpr size_t kMaxLabelPart = 63;

// A Kubernetes label name or value body: alphanumerics at both ends, '-',
// '_' and '.' between, at most 63 characters.
bool IsLabelPart(absl::string_view text) {
  if (text.empty() || text.size() > kMaxLabelPart) return false;
  if (!absl::ascii_isalnum(text.front()) || !absl::ascii_isalnum(text.back())) {
    return false;
  }
  for (char c : text) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// [prefix/]name, the prefix a DNS subdomain.
bool IsLabelKey(absl::string_view key) {
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos) return IsLabelPart(key);
  const absl::string_view prefix = key.substr(0, slash);
  if (prefix.empty() || prefix.size() > 253) return false;
  for (char c : prefix) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-' &&
        c != '.') {
      return false;
    }
  }
  return IsLabelPart(key.substr(slash + 1));
}

class CostValidator {
 public:
  CostValidator(const v1::StudySpec& spec, std::vector<SpecError>& errors)
      : spec_(spec), errors_(errors) {}

  void Run() {
    CheckLabels();
    if (spec_.worker().kind() == v1::WorkerSpec::NONE) {
      CheckNoResources();
      return;
    }
    CheckResources();
    CheckPricing();
    CheckBudget();
  }

 private:
  void Add(std::string path, std::string message) {
    errors_.push_back(SpecError{std::move(path), std::move(message)});
  }

  void CheckLabels() {
    const std::map<std::string, std::string> labels(spec_.labels().begin(),
                                                    spec_.labels().end());
    for (const auto& [key, value] : labels) {
      const std::string path = absl::StrCat("labels.", key);
      if (!IsLabelKey(key)) {
        Add(path,
            "is not a label name: at most 63 letters, digits, '-', '_' or "
            "'.', starting and ending with a letter or digit, after an "
            "optional DNS prefix and '/'");
      }
      if (!value.empty() && !IsLabelPart(value)) {
        Add(path,
            absl::StrCat("'", value,
                         "' is not a label value: at most 63 letters, digits, "
                         "'-', '_' or '.', starting and ending with a letter "
                         "or digit"));
      }
    }
  }

  void CheckNoResources() {
    const v1::WorkerSpec& worker = spec_.worker();
    constexpr absl::string_view kWhy =
        "does not apply to a worker of kind none, which runs no process";
    if (worker.gpus_per_trial() != 0) {
      Add("worker.gpus_per_trial", std::string(kWhy));
    }
    if (worker.gpus_size() > 0) Add("worker.gpus", std::string(kWhy));
    if (worker.cpus_per_trial() != 0) {
      Add("worker.cpus_per_trial", std::string(kWhy));
    }
    if (worker.memory_gb_per_trial() != 0) {
      Add("worker.memory_gb_per_trial", std::string(kWhy));
    }
    if (worker.has_pricing()) Add("worker.pricing", std::string(kWhy));
    if (spec_.has_budget()) {
      Add("budget",
          "needs workers to price: a study of worker kind none runs none");
    }
  }

  void CheckResources() {
    const v1::WorkerSpec& worker = spec_.worker();
    if (worker.kind() == v1::WorkerSpec::KUBERNETES) {
      constexpr absl::string_view kWhy =
          "is for local workers: a Kubernetes trial asks for its GPUs, CPUs "
          "and memory in worker.kubernetes.resources (or its job_template)";
      if (worker.gpus_per_trial() != 0) {
        Add("worker.gpus_per_trial", std::string(kWhy));
      }
      if (worker.gpus_size() > 0) Add("worker.gpus", std::string(kWhy));
      if (worker.cpus_per_trial() != 0) {
        Add("worker.cpus_per_trial", std::string(kWhy));
      }
      if (worker.memory_gb_per_trial() != 0) {
        Add("worker.memory_gb_per_trial", std::string(kWhy));
      }
    }
    if (worker.gpus_per_trial() < 0) {
      Add("worker.gpus_per_trial", "must be at least 0");
    }
    if (worker.cpus_per_trial() < 0) {
      Add("worker.cpus_per_trial", "must be at least 0");
    }
    const double memory = worker.memory_gb_per_trial();
    if (!std::isfinite(memory) || memory < 0) {
      Add("worker.memory_gb_per_trial", "must be a finite number >= 0");
    }
    std::set<std::string> seen;
    for (int i = 0; i < worker.gpus_size(); ++i) {
      const std::string path = absl::StrCat("worker.gpus[", i, "]");
      if (worker.gpus(i).empty()) {
        Add(path, "must name a GPU by index or UUID");
      } else if (!seen.insert(worker.gpus(i)).second) {
        Add(path, absl::StrCat("'", worker.gpus(i), "' is listed twice"));
      }
    }
    if (worker.gpus_size() > 0 &&
        worker.gpus_per_trial() > worker.gpus_size()) {
      Add("worker.gpus_per_trial",
          absl::StrCat("each trial needs ", worker.gpus_per_trial(),
                       " GPUs but worker.gpus lists ", worker.gpus_size()));
    }
  }

  void CheckPricing() {
    const v1::PricingSpec& pricing = spec_.worker().pricing();
    const std::pair<absl::string_view, double> prices[] = {
        {"gpu_hour", pricing.gpu_hour()},
        {"cpu_hour", pricing.cpu_hour()},
        {"memory_gb_hour", pricing.memory_gb_hour()},
        {"instance_hour", pricing.instance_hour()},
    };
    for (const auto& [name, price] : prices) {
      if (!std::isfinite(price) || price < 0) {
        Add(absl::StrCat("worker.pricing.", name),
            "must be a finite number >= 0");
        prices_valid_ = false;
      }
    }
    if (spec_.worker().kind() == v1::WorkerSpec::KUBERNETES &&
        spec_.worker().has_pricing()) {
      absl::StatusOr<TrialResources> resources = ResourcesPerTrial(spec_);
      if (!resources.ok()) {
        Add("worker.pricing", absl::StrCat("cannot price a trial: ",
                                           resources.status().message()));
        prices_valid_ = false;
      }
    }
  }

  void CheckBudget() {
    if (!spec_.has_budget()) return;
    const v1::BudgetSpec& budget = spec_.budget();
    if (!std::isfinite(budget.max_cost()) || budget.max_cost() <= 0) {
      Add("budget.max_cost", "required: a finite amount greater than 0");
    }
    const std::string& currency = budget.currency();
    bool iso = currency.size() == 3;
    for (char c : currency) iso = iso && absl::ascii_isupper(c);
    if (!iso) {
      Add("budget.currency",
          absl::StrCat("'", currency,
                       "' is not a currency code: three capital letters, "
                       "such as USD or EUR"));
    }
    if (prices_valid_ && !(HourlyRate(spec_) > 0)) {
      Add("worker.pricing",
          spec_.worker().kind() == v1::WorkerSpec::KUBERNETES
              ? "a budget needs prices that give a trial a cost: "
                "instance_hour, or gpu_hour, cpu_hour or memory_gb_hour for "
                "what its pod requests (nvidia.com/gpu, cpu, memory)"
              : "a budget needs prices that give a trial a cost: "
                "instance_hour, or gpu_hour with gpus_per_trial, cpu_hour "
                "with cpus_per_trial, memory_gb_hour with "
                "memory_gb_per_trial");
    }
  }

  const v1::StudySpec& spec_;
  std::vector<SpecError>& errors_;
  bool prices_valid_ = true;  // else the budget's rule would be noise
};

}  // namespace

void ValidateCostSpec(const v1::StudySpec& spec,
                      std::vector<SpecError>& errors) {
  CostValidator(spec, errors).Run();
}

}  // namespace vernier::controller
