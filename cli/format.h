// Text for people: tables, progress lines and summaries of studies and trials.
#ifndef VERNIER_CLI_FORMAT_H_
#define VERNIER_CLI_FORMAT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/study_controller.h"
#include "controller/study_summary.h"
#include "vernier/v1/study.pb.h"

namespace vernier::cli {

// Columns padded to their widest cell, the header underlined.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// "3m05s", "1h02m", "4.2s".
std::string HumanDuration(absl::Duration duration);

// "C=3.2 gamma=0.0012 kernel=rbf", in the order of the spec.
std::string FormatParams(const v1::StudySpec& spec, const v1::Trial& trial);

// One live line: done/total, running, failed, best so far, elapsed.
std::string ProgressLine(const controller::StudyProgress& progress);

// One line when a trial ends: number, state, objective or reason, runtime.
std::string TrialFinishedLine(const v1::StudySpec& spec,
                              const v1::Trial& trial);

// The end-of-run summary: state and reason, counts, the best trial.
std::string StudyReport(const v1::Study& study,
                        const controller::StudySummary& summary);

std::string StudiesTable(
    const std::vector<v1::Study>& studies,
    const std::vector<controller::StudySummary>& summaries);

// With a GPUS column when trials hold GPUs and a COST column (as of `now`)
// when the study has prices.
std::string TrialsTable(const v1::StudySpec& spec,
                        const std::vector<v1::Trial>& trials, absl::Time now);

// The study's money as of `now`: spent, and with a budget what is committed,
// what remains, the burn rate and how many more trials it buys. Empty when
// the study has no prices.
std::string CostReport(const v1::Study& study,
                       const std::vector<v1::Trial>& trials, absl::Time now);

// Names without the enum's prefix, lowercase: "succeeded", "done".
std::string StateName(v1::Trial::State state);
std::string StateName(v1::Study::State state);

}  // namespace vernier::cli

#endif  // VERNIER_CLI_FORMAT_H_
