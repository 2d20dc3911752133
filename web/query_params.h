// Reading the JSON API's query parameters. Every error is INVALID_ARGUMENT
// and its message starts with the parameter's name ("page_size: ...").
#ifndef VERNIER_WEB_QUERY_PARAMS_H_
#define VERNIER_WEB_QUERY_PARAMS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/store.h"
#include "vernier/v1/study.pb.h"

namespace vernier::web {

// Query parameters, repeatable (httplib::Params has this type).
using QueryParams = std::multimap<std::string, std::string>;

// The value of a parameter given once; nullopt when absent. A parameter
// given twice is an error, except where the API says it repeats.
absl::StatusOr<std::optional<std::string>> SingleParam(
    const QueryParams& params, const std::string& name);

struct PageRequest {
  int64_t offset = 0;
  int size = 0;
};

// The largest offset a page_token may hold: far past any list, and far
// enough below 2^63 that offset + size cannot overflow.
inline constexpr int64_t kMaxPageOffset = int64_t{1} << 53;

// page_size (1 to `max_size`, `default_size` when absent) and page_token
// (an offset from 0 to kMaxPageOffset).
absl::StatusOr<PageRequest> ParsePage(const QueryParams& params,
                                      int default_size, int max_size);

// The page_token of the page that starts at `offset`: opaque to clients.
std::string PageToken(int64_t offset);

// `next_page_token` for a page of `size` at `offset` out of `total`: empty
// when it is the last.
std::string NextPageToken(const PageRequest& page, int64_t total);

// A trial query for `study` from state, range, order_by and the page.
// Parameter names must be the study's; ranges need numeric parameters.
absl::StatusOr<storage::TrialQuery> ParseTrialQuery(const v1::Study& study,
                                                    const QueryParams& params,
                                                    int default_size,
                                                    int max_size);

// A positive decimal id from a path segment; INVALID_ARGUMENT naming `what`.
absl::StatusOr<int64_t> ParseId(absl::string_view text, absl::string_view what);

}  // namespace vernier::web

#endif  // VERNIER_WEB_QUERY_PARAMS_H_
