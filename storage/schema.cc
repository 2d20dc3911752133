#include "storage/schema.h"

#include <sqlite3.h>

#include <cstdint>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Exception.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "storage/grouped_writer.h"

namespace vernier::storage {
namespace {

int64_t UserVersion(SQLite::Database& db) {
  return db.execAndGet("PRAGMA user_version").getInt64();
}

}  // namespace

const std::vector<std::string>& SchemaMigrations() {
  // Studies and trials are kept as serialized v1 protos (`proto`), plus the
  // columns that queries filter or sort by. A trial's measurements live only
  // in `measurements`, one row per (step, metric); a NULL value is NaN.
  // trials.params is the JSON object of the trial's parameters (name to
  // number or string), for filtering and sorting with json_extract; a row
  // from before version 2 gets it when a SqliteStore opens the file.
  static const std::vector<std::string>* const kSteps =
      new std::vector<std::string>{
          // 1: the first schema.
          R"sql(
CREATE TABLE studies (
  id INTEGER PRIMARY KEY,
  name TEXT UNIQUE NOT NULL,
  state INTEGER,
  proto BLOB NOT NULL
);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  number INTEGER NOT NULL,
  state INTEGER NOT NULL,
  objective REAL,
  proto BLOB NOT NULL,
  UNIQUE (study_id, number)
);
CREATE INDEX trials_by_study_state ON trials (study_id, state);
CREATE TABLE measurements (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  step INTEGER NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  time_us INTEGER,
  PRIMARY KEY (trial_id, step, metric)
) WITHOUT ROWID;
)sql",
          // 2: parameters as JSON for the dashboard's filters and sorting,
          // and the objective sort of a study's trials.
          R"sql(
ALTER TABLE trials ADD COLUMN params TEXT;
CREATE INDEX trials_by_study_objective ON trials (study_id, objective);
)sql",
      };
  return *kSteps;
}

int CurrentSchemaVersion() {
  return static_cast<int>(SchemaMigrations().size());
}

absl::Status ApplyMigrations(SQLite::Database& db,
                             const std::vector<std::string>& steps,
                             absl::string_view name) {
  const int64_t known = static_cast<int64_t>(steps.size());
  int64_t version = 0;
  try {
    version = UserVersion(db);
  } catch (const SQLite::Exception& e) {
    return SqliteErrorToStatus(
        e, absl::StrCat(name, ": cannot read the schema version"));
  }
  auto too_new = [&](int64_t found) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, ": the database has schema version ", found, ", newer than the ",
        known, " this Vernier knows; it was written by a newer Vernier"));
  };
  if (version > known) return too_new(version);
  while (version < known) {
    try {
      db.exec("BEGIN IMMEDIATE");
      // Another process may have migrated between our read and the lock.
      version = UserVersion(db);
      if (version >= known) {
        db.exec("COMMIT");
        continue;
      }
      db.exec(steps[version]);
      db.exec(absl::StrCat("PRAGMA user_version = ", version + 1));
      db.exec("COMMIT");
      ++version;
      spdlog::info("storage: {} migrated to schema version {}",
                   std::string(name), version);
    } catch (const SQLite::Exception& e) {
      try {
        if (sqlite3_get_autocommit(db.getHandle()) == 0) db.exec("ROLLBACK");
      } catch (const SQLite::Exception& rollback) {
        spdlog::error("storage: {}: rollback of migration failed: {}",
                      std::string(name), rollback.what());
      }
      return SqliteErrorToStatus(
          e, absl::StrCat(name, ": migration to schema version ", version + 1,
                          " failed"));
    }
  }
  if (version > known) return too_new(version);
  return absl::OkStatus();
}

}  // namespace vernier::storage
