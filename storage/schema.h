// The SQLite schema of the store and its migrations.
//
// The schema version lives in `PRAGMA user_version`. Migrations are an ordered
// list of SQL steps: step i (counting from 0) takes a database from version i
// to version i + 1. A step is only ever appended, never edited, once released.
#ifndef VERNIER_STORAGE_SCHEMA_H_
#define VERNIER_STORAGE_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace SQLite {
class Database;
}  // namespace SQLite

namespace vernier::storage {

// The steps of this version of Vernier, oldest first.
const std::vector<std::string>& SchemaMigrations();

// The version a database has once every step of SchemaMigrations() ran.
int CurrentSchemaVersion();

// Brings `db` to version `steps.size()`. Each missing step runs in its own
// transaction (BEGIN IMMEDIATE) together with its version bump, so a database
// is always at some whole version; steps already applied are not run again.
// FAILED_PRECONDITION when the database's version is newer than
// `steps.size()` (written by a newer Vernier); the failing step's error, with
// nothing of that step kept, otherwise. `name` (the file's path) starts every
// message. Must not be called inside a transaction.
absl::Status ApplyMigrations(SQLite::Database& db,
                             const std::vector<std::string>& steps,
                             absl::string_view name);

}  // namespace vernier::storage

#endif  // VERNIER_STORAGE_SCHEMA_H_
