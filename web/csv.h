// The trial table as CSV (RFC 4180): one row per trial with its number,
// state, objective, parameters (in spec order), final metrics (objective and
// additional metrics), times and state message.
//
// Text cells are quoted when they hold a comma, quote or line break, and a
// text cell that a spreadsheet would read as a formula (starting with = + -
// @ or a tab) gets a leading apostrophe.
#ifndef VERNIER_WEB_CSV_H_
#define VERNIER_WEB_CSV_H_

#include <string>
#include <vector>

#include "vernier/v1/study.pb.h"

namespace vernier::web {

std::string TrialsToCsv(const v1::StudySpec& spec,
                        const std::vector<v1::Trial>& trials);

}  // namespace vernier::web

#endif  // VERNIER_WEB_CSV_H_
