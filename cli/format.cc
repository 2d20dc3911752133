#include "cli/format.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controller/cost_ledger.h"
#include "controller/proto_time.h"
#include "trial-runner/params_template.h"

namespace vernier::cli {
namespace {

std::string FormatNumber(double value) {
  return absl::StrFormat("%.6g", value);
}

std::optional<absl::Duration> Runtime(const v1::Trial& trial) {
  if (!trial.has_start_time() || !trial.has_end_time()) return std::nullopt;
  return controller::FromProto(trial.end_time()) -
         controller::FromProto(trial.start_time());
}

std::string FormatTime(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", controller::FromProto(time),
                          absl::LocalTimeZone());
}

// The objective of a trial, or what stands in for it.
std::string ObjectiveCell(const v1::Trial& trial) {
  return trial.has_objective() ? FormatNumber(trial.objective()) : "-";
}

// "stopped early by asha at step 9".
std::string EarlyStopNote(const v1::EarlyStop& early_stop) {
  return absl::StrCat("stopped early by ", early_stop.rule(), " at step ",
                      early_stop.step());
}

// "  stopped early by asha: 5 trials (at step 1: #2 #4 #5; at step 3: #7 #9)"
// per rule, one line each.
std::string EarlyStoppedLines(
    const std::vector<controller::StudySummary::EarlyStopped>& stopped) {
  // rule -> step -> trial numbers, each in increasing order.
  std::map<std::string, std::map<int64_t, std::vector<std::string>>> grouped;
  for (const auto& trial : stopped) {
    grouped[trial.rule][trial.step].push_back(absl::StrCat("#", trial.number));
  }
  std::string out;
  for (const auto& [rule, by_step] : grouped) {
    int count = 0;
    std::vector<std::string> groups;
    for (const auto& [step, numbers] : by_step) {
      count += static_cast<int>(numbers.size());
      groups.push_back(
          absl::StrCat("at step ", step, ": ", absl::StrJoin(numbers, " ")));
    }
    absl::StrAppend(&out, "  stopped early by ", rule, ": ", count,
                    count == 1 ? " trial (" : " trials (",
                    absl::StrJoin(groups, "; "), ")\n");
  }
  return out;
}

}  // namespace

std::string StateName(v1::Trial::State state) {
  return absl::AsciiStrToLower(v1::Trial::State_Name(state));
}

std::string StateName(v1::Study::State state) {
  return absl::AsciiStrToLower(v1::Study::State_Name(state));
}

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto render_row = [&widths](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      const bool last = i + 1 == cells.size();
      absl::StrAppend(
          &line, cells[i],
          last ? "" : std::string(widths[i] - cells[i].size() + 2, ' '));
    }
    return line + "\n";
  };
  std::string out = render_row(header);
  std::vector<std::string> rules;
  for (size_t width : widths) rules.push_back(std::string(width, '-'));
  out += render_row(rules);
  for (const auto& row : rows) out += render_row(row);
  return out;
}

std::string HumanDuration(absl::Duration duration) {
  const int64_t seconds = absl::ToInt64Seconds(duration);
  if (seconds < 60)
    return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(duration));
  if (seconds < 3600)
    return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrFormat("%dh%02dm", seconds / 3600, seconds % 3600 / 60);
}

std::string FormatParams(const v1::StudySpec& spec, const v1::Trial& trial) {
  std::vector<std::string> parts;
  for (const v1::ParameterSpec& parameter : spec.parameters()) {
    auto it = trial.parameters().find(parameter.name());
    if (it == trial.parameters().end()) continue;
    const google::protobuf::Value& value = it->second;
    parts.push_back(
        absl::StrCat(parameter.name(), "=",
                     value.has_number_value() &&
                             parameter.type() == v1::ParameterSpec::DOUBLE
                         ? FormatNumber(value.number_value())
                         : trial_runner::FormatParamValue(value)));
  }
  return absl::StrJoin(parts, " ");
}

std::string ProgressLine(const controller::StudyProgress& progress) {
  const v1::StudySpec& spec = progress.study.spec();
  const controller::StudySummary& summary = progress.summary;
  std::string line = absl::StrFormat(
      "[%s] %d/%d done, %d running, %d failed", HumanDuration(progress.elapsed),
      summary.finished(), spec.trials().max(), summary.running, summary.failed);
  if (!summary.early_stopped.empty()) {
    absl::StrAppend(&line, ", ", summary.early_stopped.size(),
                    " stopped early");
  }
  if (summary.best.has_value()) {
    absl::StrAppend(&line, " | best ", spec.objective().metric(), "=",
                    FormatNumber(summary.best->objective()), " (trial ",
                    summary.best->number(), ": ",
                    FormatParams(spec, *summary.best), ")");
  }
  return line;
}

std::string TrialFinishedLine(const v1::StudySpec& spec,
                              const v1::Trial& trial) {
  std::string line =
      absl::StrFormat("trial %d %s", trial.number(), StateName(trial.state()));
  if (trial.state() == v1::Trial::SUCCEEDED) {
    absl::StrAppend(&line, " ", spec.objective().metric(), "=",
                    FormatNumber(trial.objective()));
  } else if (trial.has_early_stop()) {
    // "trial 3 stopped early by asha at step 9, score=0.41 (reason)"
    absl::StrAppend(&line, " early by ", trial.early_stop().rule(),
                    " at step ", trial.early_stop().step(), ", ",
                    spec.objective().metric(), "=",
                    FormatNumber(trial.objective()), " (",
                    trial.early_stop().reason(), ")");
  } else if (!trial.state_message().empty()) {
    absl::StrAppend(&line, ": ", trial.state_message());
  }
  if (auto runtime = Runtime(trial)) {
    absl::StrAppend(&line, " in ", HumanDuration(*runtime));
  }
  absl::StrAppend(&line, " (", FormatParams(spec, trial), ")");
  return line;
}

std::string StudyReport(const v1::Study& study,
                        const controller::StudySummary& summary) {
  const v1::StudySpec& spec = study.spec();
  std::string out =
      absl::StrFormat("study %s: %s", study.name(), StateName(study.state()));
  if (!study.state_message().empty())
    absl::StrAppend(&out, " (", study.state_message(), ")");
  absl::StrAppendFormat(&out,
                        "\n  trials: %d succeeded, %d failed, %d stopped, %d "
                        "infeasible, %d not finished\n",
                        summary.succeeded, summary.failed, summary.stopped,
                        summary.infeasible, summary.pending + summary.running);
  absl::StrAppend(&out, EarlyStoppedLines(summary.early_stopped));
  if (!summary.best.has_value()) return out + "  no trial succeeded yet\n";
  const v1::Trial& best = *summary.best;
  absl::StrAppendFormat(
      &out, "  best: trial %d, %s = %s%s\n", best.number(),
      spec.objective().metric(), FormatNumber(best.objective()),
      best.has_early_stop()
          ? absl::StrCat(" (", EarlyStopNote(best.early_stop()), ")")
          : "");
  absl::StrAppend(&out, "  parameters: ", FormatParams(spec, best), "\n");
  for (const auto& [name, value] : best.final_metrics()) {
    if (name == spec.objective().metric()) continue;
    absl::StrAppend(&out, "  ", name, " = ", FormatNumber(value), "\n");
  }
  if (!best.log_path().empty())
    absl::StrAppend(&out, "  log: ", best.log_path(), "\n");
  return out;
}

std::string StudiesTable(
    const std::vector<v1::Study>& studies,
    const std::vector<controller::StudySummary>& summaries) {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < studies.size(); ++i) {
    const v1::Study& study = studies[i];
    const controller::StudySummary& summary = summaries[i];
    const v1::ObjectiveSpec& objective = study.spec().objective();
    rows.push_back({
        study.name(),
        StateName(study.state()),
        absl::StrCat(summary.finished(), "/", study.spec().trials().max()),
        absl::StrCat(summary.running),
        absl::StrCat(summary.failed),
        summary.best.has_value()
            ? absl::StrCat(objective.metric(), "=",
                           FormatNumber(summary.best->objective()))
            : "-",
        absl::AsciiStrToLower(v1::ObjectiveSpec::Goal_Name(objective.goal())),
        FormatTime(study.create_time()),
    });
  }
  return RenderTable({"STUDY", "STATE", "DONE", "RUNNING", "FAILED", "BEST",
                      "GOAL", "CREATED"},
                     rows);
}

std::string CostReport(const v1::Study& study,
                       const std::vector<v1::Trial>& trials, absl::Time now) {
  const v1::StudySpec& spec = study.spec();
  const controller::CostLedger ledger(spec);
  if (ledger.hourly_rate() <= 0) return "";
  std::vector<const v1::Trial*> views;
  for (const v1::Trial& trial : trials) views.push_back(&trial);
  const controller::CostBalance balance = ledger.Balance(views, now);
  const std::string currency =
      spec.has_budget() ? spec.budget().currency() : "USD";
  if (!spec.has_budget()) {
    return absl::StrFormat("  cost: %.2f %s spent, burning %.2f %s/h\n",
                           balance.spent, currency, balance.burn_per_hour,
                           currency);
  }
  std::string out = absl::StrFormat(
      "  cost: %.2f of %.2f %s spent, %.2f committed to running trials, "
      "%.2f remaining; burning %.2f %s/h",
      balance.spent, spec.budget().max_cost(), currency, balance.committed,
      std::max(0.0, balance.remaining), balance.burn_per_hour, currency);
  if (balance.affordable_trials.has_value()) {
    absl::StrAppendFormat(&out, "; about %d more trials at %.2f each",
                          *balance.affordable_trials, balance.trial_cost);
  }
  return out + "\n";
}

std::string TrialsTable(const v1::StudySpec& spec,
                        const std::vector<v1::Trial>& trials, absl::Time now) {
  const controller::CostLedger ledger(spec);
  const bool priced = ledger.hourly_rate() > 0;
  const bool gpus = spec.worker().gpus_per_trial() > 0;
  std::vector<std::string> header = {"#", "STATE", spec.objective().metric()};
  for (const v1::ParameterSpec& parameter : spec.parameters()) {
    header.push_back(parameter.name());
  }
  for (const std::string& metric : spec.objective().additional_metrics()) {
    header.push_back(metric);
  }
  header.push_back("RUNTIME");
  if (gpus) header.push_back("GPUS");
  if (priced) header.push_back("COST");
  header.push_back("NOTE");
  std::vector<std::vector<std::string>> rows;
  for (const v1::Trial& trial : trials) {
    std::vector<std::string> row = {absl::StrCat(trial.number()),
                                    StateName(trial.state()),
                                    ObjectiveCell(trial)};
    for (const v1::ParameterSpec& parameter : spec.parameters()) {
      auto it = trial.parameters().find(parameter.name());
      if (it == trial.parameters().end()) {
        row.push_back("");
      } else if (parameter.type() == v1::ParameterSpec::DOUBLE) {
        row.push_back(FormatNumber(it->second.number_value()));
      } else {
        row.push_back(trial_runner::FormatParamValue(it->second));
      }
    }
    for (const std::string& metric : spec.objective().additional_metrics()) {
      auto it = trial.final_metrics().find(metric);
      row.push_back(
          it == trial.final_metrics().end() ? "-" : FormatNumber(it->second));
    }
    auto runtime = Runtime(trial);
    row.push_back(runtime ? HumanDuration(*runtime) : "");
    if (gpus) row.push_back(absl::StrJoin(trial.gpus(), ","));
    if (priced) {
      row.push_back(absl::StrFormat("%.2f", ledger.TrialCost(trial, now)));
    }
    // A stopped trial's rule and step are always whole; its reason is in
    // the state message (`--json`).
    std::string note = trial.has_early_stop()
                           ? EarlyStopNote(trial.early_stop())
                           : trial.state_message();
    if (note.size() > 60) note = note.substr(0, 57) + "...";
    row.push_back(note);
    rows.push_back(std::move(row));
  }
  return RenderTable(header, rows);
}

}  // namespace vernier::cli
