#include "web/query_params.h"

#include <cmath>
#include <iterator>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vernier::web {
namespace {

constexpr absl::string_view kTokenPrefix = "offset:";

const v1::ParameterSpec* FindParameter(const v1::Study& study,
                                       absl::string_view name) {
  for (const v1::ParameterSpec& parameter : study.spec().parameters()) {
    if (parameter.name() == name) return &parameter;
  }
  return nullptr;
}

absl::Status UnknownParameter(absl::string_view field, const v1::Study& study,
                              absl::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": study ", study.name(), " has no parameter '",
                   name, "'"));
}

}  // namespace

absl::StatusOr<std::optional<std::string>> SingleParam(
    const QueryParams& params, const std::string& name) {
  auto [first, last] = params.equal_range(name);
  if (first == last) return std::nullopt;
  if (std::next(first) != last) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": given more than once"));
  }
  return first->second;
}

absl::StatusOr<PageRequest> ParsePage(const QueryParams& params,
                                      int default_size, int max_size) {
  PageRequest page{.offset = 0, .size = default_size};
  absl::StatusOr<std::optional<std::string>> size =
      SingleParam(params, "page_size");
  if (!size.ok()) return size.status();
  if (size->has_value()) {
    int parsed = 0;
    if (!absl::SimpleAtoi(**size, &parsed) || parsed < 1 ||
        parsed > max_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_size: must be an integer from 1 to ", max_size,
                       ", not '", **size, "'"));
    }
    page.size = parsed;
  }
  absl::StatusOr<std::optional<std::string>> token =
      SingleParam(params, "page_token");
  if (!token.ok()) return token.status();
  if (token->has_value() && !(*token)->empty()) {
    std::string decoded;
    if (!absl::WebSafeBase64Unescape(**token, &decoded) ||
        !absl::StartsWith(decoded, kTokenPrefix) ||
        !absl::SimpleAtoi(
            absl::string_view(decoded).substr(kTokenPrefix.size()),
            &page.offset) ||
        page.offset < 0 || page.offset > kMaxPageOffset) {
      return absl::InvalidArgumentError(
          "page_token: not a token this server gave (use next_page_token of "
          "the previous page)");
    }
  }
  return page;
}

std::string PageToken(int64_t offset) {
  return absl::WebSafeBase64Escape(absl::StrCat(kTokenPrefix, offset));
}

std::string NextPageToken(const PageRequest& page, int64_t total) {
  const int64_t next = page.offset + page.size;
  return next < total ? PageToken(next) : "";
}

absl::StatusOr<storage::TrialQuery> ParseTrialQuery(const v1::Study& study,
                                                    const QueryParams& params,
                                                    int default_size,
                                                    int max_size) {
  storage::TrialQuery query{.study_id = study.id()};
  absl::StatusOr<PageRequest> page = ParsePage(params, default_size, max_size);
  if (!page.ok()) return page.status();
  query.offset = page->offset;
  query.limit = page->size;

  absl::StatusOr<std::optional<std::string>> states =
      SingleParam(params, "state");
  if (!states.ok()) return states.status();
  if (states->has_value()) {
    for (absl::string_view name :
         absl::StrSplit(**states, ',', absl::SkipWhitespace())) {
      v1::Trial::State state;
      if (!v1::Trial::State_Parse(std::string(absl::StripAsciiWhitespace(name)),
                                  &state) ||
          state == v1::Trial::STATE_UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat(
            "state: '", name,
            "' is not a trial state (PENDING, RUNNING, SUCCEEDED, FAILED, "
            "STOPPED, INFEASIBLE)"));
      }
      query.states.push_back(state);
    }
  }

  auto [first, last] = params.equal_range("range");
  for (auto it = first; it != last; ++it) {
    std::vector<std::string> parts = absl::StrSplit(it->second, ':');
    storage::TrialQuery::ParameterRange range;
    if (parts.size() != 3 || !absl::SimpleAtod(parts[1], &range.min) ||
        !absl::SimpleAtod(parts[2], &range.max) || std::isnan(range.min) ||
        std::isnan(range.max) || range.min > range.max) {
      return absl::InvalidArgumentError(absl::StrCat(
          "range: '", it->second, "' is not PARAMETER:MIN:MAX with MIN <= MAX"));
    }
    const v1::ParameterSpec* parameter = FindParameter(study, parts[0]);
    if (parameter == nullptr) return UnknownParameter("range", study, parts[0]);
    if (parameter->type() == v1::ParameterSpec::CATEGORICAL) {
      return absl::InvalidArgumentError(absl::StrCat(
          "range: parameter '", parts[0], "' is categorical, not numeric"));
    }
    range.name = parts[0];
    query.parameter_ranges.push_back(std::move(range));
  }

  absl::StatusOr<std::optional<std::string>> order =
      SingleParam(params, "order_by");
  if (!order.ok()) return order.status();
  if (order->has_value()) {
    std::vector<std::string> words =
        absl::StrSplit(**order, ' ', absl::SkipWhitespace());
    if (words.empty() || words.size() > 2 ||
        (words.size() == 2 && words[1] != "desc" && words[1] != "asc")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "order_by: '", **order, "' is not FIELD or FIELD desc"));
    }
    query.descending = words.size() == 2 && words[1] == "desc";
    const std::string& field = words[0];
    if (field == "number") {
      query.order = storage::TrialQuery::Order::kNumber;
    } else if (field == "objective") {
      query.order = storage::TrialQuery::Order::kObjective;
    } else if (field == "state") {
      query.order = storage::TrialQuery::Order::kState;
    } else if (absl::StartsWith(field, "params.")) {
      const std::string name = field.substr(7);
      if (FindParameter(study, name) == nullptr) {
        return UnknownParameter("order_by", study, name);
      }
      query.order = storage::TrialQuery::Order::kParameter;
      query.order_parameter = name;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("order_by: cannot sort by '", field,
                       "' (number, objective, state or params.NAME)"));
    }
  }
  return query;
}

absl::StatusOr<int64_t> ParseId(absl::string_view text,
                                absl::string_view what) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(text, &id) || id < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", text, "' is not an id"));
  }
  return id;
}

}  // namespace vernier::web
