#include "storage/writer_limits.h"

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <utility>

#include "SQLiteCpp/Database.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace vernier::storage {
namespace {

// What identifies one version of the file: a change of either re-applies it.
struct FileVersion {
  bool exists = false;
  off_t size = 0;
  timespec modified = {};

  bool operator==(const FileVersion& other) const {
    return exists == other.exists && size == other.size &&
           modified.tv_sec == other.modified.tv_sec &&
           modified.tv_nsec == other.modified.tv_nsec;
  }
};

FileVersion VersionOf(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return {};
  return {.exists = true, .size = info.st_size, .modified = info.st_mtim};
}

void Apply(SQLite::Database& db, const std::string& path) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    const absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty()) continue;
    std::pair<absl::string_view, absl::string_view> name_value =
        absl::StrSplit(text, absl::MaxSplits('=', 1));
    const absl::string_view name = absl::StripAsciiWhitespace(name_value.first);
    int64_t value = 0;
    if ((name != "max_page_count" && name != "query_only") ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(name_value.second),
                          &value) ||
        value < 0) {
      spdlog::warn(
          "storage limits {}: ignoring '{}' (want max_page_count=N "
          "or query_only=0|1)",
          path, std::string(text));
      continue;
    }
    db.exec(absl::StrCat("PRAGMA ", name, " = ", value));
    spdlog::warn("storage limits {}: {} = {}", path, std::string(name), value);
  }
}

}  // namespace

GroupedWriter::BatchPreparer WriterLimitsFromFile(std::string path) {
  auto applied = std::make_shared<FileVersion>();
  return [path = std::move(path), applied](SQLite::Database& db) {
    const FileVersion now = VersionOf(path);
    if (now == *applied) return;
    *applied = now;
    if (now.exists) Apply(db, path);
  };
}

}  // namespace vernier::storage
