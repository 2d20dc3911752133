#include "storage/sqlite_store.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Exception.h"
#include "SQLiteCpp/Statement.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"
#include "storage/schema.h"
#include "storage/writer_limits.h"

namespace vernier::storage {
namespace {

// How long a connection waits for a lock held by another connection.
constexpr int kBusyTimeoutMs = 5000;

}  // namespace

// Thread ownership: any thread may Take() and Give(); a taken connection
// belongs to its taker alone until it is given back.
class ReaderPool {
 public:
  explicit ReaderPool(std::string path) : path_(std::move(path)) {}

  // An idle connection, or a new one. Throws SQLite::Exception when a new
  // connection cannot be opened.
  std::unique_ptr<SQLite::Database> Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<SQLite::Database> db = std::move(idle_.back());
        idle_.pop_back();
        return db;
      }
    }
    return std::make_unique<SQLite::Database>(
        path_, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, kBusyTimeoutMs);
  }

  // Keeps `db` for a later Take(), or closes it when enough are idle.
  void Give(std::unique_ptr<SQLite::Database> db) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(db));
  }

 private:
  static constexpr size_t kMaxIdle = 4;

  const std::string path_;
  std::mutex mu_;  // std, like GroupedWriter, for ThreadSanitizer
  std::vector<std::unique_ptr<SQLite::Database>> idle_ ABSL_GUARDED_BY(mu_);
};

namespace {

// Runs `read` on a reader connection; SQLite errors become statuses that
// start with `what`.
template <typename T, typename Fn>
absl::StatusOr<T> Read(ReaderPool& pool, absl::string_view what, Fn&& read) {
  try {
    std::unique_ptr<SQLite::Database> db = pool.Take();
    absl::StatusOr<T> result = read(*db);
    pool.Give(std::move(db));
    return result;
  } catch (const SQLite::Exception& e) {
    return SqliteErrorToStatus(e, what);
  }
}

void BindBlob(SQLite::Statement& statement, int index,
              const std::string& bytes) {
  statement.bind(index, static_cast<const void*>(bytes.data()),
                 static_cast<int>(bytes.size()));
}

// SQLite would store NaN as NULL anyway; NULL is read back as NaN.
void BindReal(SQLite::Statement& statement, int index,
              std::optional<double> value) {
  if (!value.has_value() || std::isnan(*value)) {
    statement.bind(index);
  } else {
    statement.bind(index, *value);
  }
}

double ReadReal(const SQLite::Column& column) {
  return column.isNull() ? std::numeric_limits<double>::quiet_NaN()
                         : column.getDouble();
}

std::string Serialize(const google::protobuf::Message& message) {
  std::string bytes;
  message.SerializeToString(&bytes);
  return bytes;
}

template <typename Message>
absl::StatusOr<Message> Parse(const SQLite::Column& column,
                              absl::string_view what) {
  Message message;
  if (!message.ParseFromArray(column.getBlob(), column.getBytes())) {
    return absl::DataLossError(absl::StrCat(what, " is stored damaged"));
  }
  return message;
}

int64_t ToMicros(const google::protobuf::Timestamp& time) {
  return time.seconds() * 1'000'000 + time.nanos() / 1'000;
}

google::protobuf::Timestamp FromMicros(int64_t micros) {
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  google::protobuf::Timestamp time;
  time.set_seconds(seconds);
  time.set_nanos(static_cast<int32_t>(rest * 1'000));
  return time;
}

bool Exists(SQLite::Database& db, const char* query, int64_t id) {
  SQLite::Statement statement(db, query);
  statement.bind(1, id);
  return statement.executeStep();
}

bool StudyExists(SQLite::Database& db, int64_t id) {
  return Exists(db, "SELECT 1 FROM studies WHERE id = ?", id);
}

bool TrialExists(SQLite::Database& db, int64_t id) {
  return Exists(db, "SELECT 1 FROM trials WHERE id = ?", id);
}

// The id the next row of `table` gets; the caller holds the write lock.
int64_t NextId(SQLite::Database& db, const char* table) {
  return db
      .execAndGet(absl::StrCat("SELECT COALESCE(MAX(id), 0) + 1 FROM ", table))
      .getInt64();
}

std::optional<double> Objective(const v1::Trial& trial) {
  if (!trial.has_objective()) return std::nullopt;
  return trial.objective();
}

// trials.params: the parameters as a JSON object, numbers and strings as
// such (a non-finite number becomes null).
std::string ParamsJson(const v1::Trial& trial) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [name, value] : trial.parameters()) {
    if (value.has_string_value()) {
      params[name] = value.string_value();
    } else if (value.has_number_value() && std::isfinite(value.number_value())) {
      params[name] = value.number_value();
    } else if (value.has_bool_value()) {
      params[name] = value.bool_value();
    } else {
      params[name] = nullptr;
    }
  }
  return params.dump();
}

// The json_extract path of a parameter (names are quoted, so any is safe).
std::string ParamPath(absl::string_view name) {
  return absl::StrCat("$.", nlohmann::json(std::string(name)).dump());
}

// Fills trials.params of rows stored before schema version 2.
void BackfillParams(SQLite::Database& db) {
  // Read first, then write: a table is not changed under its own scan.
  std::vector<std::pair<int64_t, std::string>> filled;
  SQLite::Statement rows(db, "SELECT id, proto FROM trials WHERE params IS NULL");
  while (rows.executeStep()) {
    v1::Trial trial;
    const SQLite::Column proto = rows.getColumn(1);
    if (!trial.ParseFromArray(proto.getBlob(), proto.getBytes())) continue;
    filled.emplace_back(rows.getColumn(0).getInt64(), ParamsJson(trial));
  }
  rows.reset();
  if (filled.empty()) return;
  SQLite::Statement update(db, "UPDATE trials SET params = ? WHERE id = ?");
  db.exec("BEGIN IMMEDIATE");
  for (const auto& [id, params] : filled) {
    update.bind(1, params);
    update.bind(2, id);
    update.exec();
    update.reset();
  }
  db.exec("COMMIT");
}

absl::Status InsertTrial(SQLite::Database& db, v1::Trial& trial) {
  if (!StudyExists(db, trial.study_id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial number ", trial.number(), " names study ",
                     trial.study_id(), ", which does not exist"));
  }
  SQLite::Statement taken(
      db, "SELECT id FROM trials WHERE study_id = ? AND number = ?");
  taken.bind(1, trial.study_id());
  taken.bind(2, trial.number());
  if (taken.executeStep()) {
    return absl::AlreadyExistsError(absl::StrCat("study ", trial.study_id(),
                                                 " already has a trial number ",
                                                 trial.number()));
  }
  trial.set_id(NextId(db, "trials"));
  SQLite::Statement insert(db,
                           "INSERT INTO trials (id, study_id, number, state, "
                           "objective, proto, params) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, trial.id());
  insert.bind(2, trial.study_id());
  insert.bind(3, trial.number());
  insert.bind(4, static_cast<int32_t>(trial.state()));
  BindReal(insert, 5, Objective(trial));
  BindBlob(insert, 6, Serialize(trial));
  insert.bind(7, ParamsJson(trial));
  insert.exec();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    const std::string& path, SqliteStoreOptions options) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open(path, std::move(options));
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path, SqliteStoreOptions options) {
  const std::string name = absl::StrCat("database '", path, "'");
  std::unique_ptr<SQLite::Database> db;
  try {
    // NOMUTEX (SQLite's multi-thread mode): a connection is used by one
    // thread at a time (the writer's by its thread, a reader's by whoever
    // took it from the pool), so SQLite need not lock around every call.
    db = std::make_unique<SQLite::Database>(
        path,
        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
        kBusyTimeoutMs);
    const std::string mode =
        db->execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open ", name,
                       ": it cannot use WAL mode (mode is ", mode, ")"));
    }
    // FULL syncs the WAL on every commit: a commit survives power loss.
    db->exec("PRAGMA synchronous = FULL");
    db->exec("PRAGMA foreign_keys = ON");
  } catch (const SQLite::Exception& e) {
    return SqliteErrorToStatus(e, absl::StrCat("cannot open ", name));
  }
  if (absl::Status migrated = ApplyMigrations(*db, SchemaMigrations(), name);
      !migrated.ok()) {
    return migrated;
  }
  try {
    BackfillParams(*db);
  } catch (const SQLite::Exception& e) {
    return SqliteErrorToStatus(
        e, absl::StrCat("cannot fill the parameter column of ", name));
  }
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(path,
                      std::make_unique<GroupedWriter>(
                          std::move(db), std::move(options.on_commit),
                          options.test_limits_file.empty()
                              ? nullptr
                              : WriterLimitsFromFile(options.test_limits_file)),
                      std::make_unique<ReaderPool>(path)));
}

SqliteStore::SqliteStore(std::string path,
                         std::unique_ptr<GroupedWriter> writer,
                         std::unique_ptr<ReaderPool> readers)
    : path_(std::move(path)),
      readers_(std::move(readers)),
      writer_(std::move(writer)) {}

SqliteStore::~SqliteStore() = default;

absl::StatusOr<v1::Study> SqliteStore::CreateStudy(v1::Study study) {
  study.clear_id();
  if (study.name().empty()) {
    return absl::InvalidArgumentError("a study needs a name");
  }
  absl::Status status =
      writer_->Submit([&study](SQLite::Database& db) -> absl::Status {
        SQLite::Statement taken(db, "SELECT id FROM studies WHERE name = ?");
        taken.bind(1, study.name());
        if (taken.executeStep()) {
          return absl::AlreadyExistsError(absl::StrCat(
              "a study named '", study.name(), "' already exists (id ",
              taken.getColumn(0).getInt64(), ")"));
        }
        study.set_id(NextId(db, "studies"));
        SQLite::Statement insert(
            db,
            "INSERT INTO studies (id, name, state, proto) VALUES (?, ?, ?, ?)");
        insert.bind(1, study.id());
        insert.bind(2, study.name());
        insert.bind(3, static_cast<int32_t>(study.state()));
        BindBlob(insert, 4, Serialize(study));
        insert.exec();
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return study;
}

absl::Status SqliteStore::UpdateStudy(const v1::Study& study) {
  return writer_->Submit([&study](SQLite::Database& db) -> absl::Status {
    SQLite::Statement taken(
        db, "SELECT id FROM studies WHERE name = ? AND id != ?");
    taken.bind(1, study.name());
    taken.bind(2, study.id());
    if (taken.executeStep()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "cannot rename study ", study.id(), " to '", study.name(),
          "': study ", taken.getColumn(0).getInt64(), " has that name"));
    }
    SQLite::Statement update(
        db, "UPDATE studies SET name = ?, state = ?, proto = ? WHERE id = ?");
    update.bind(1, study.name());
    update.bind(2, static_cast<int32_t>(study.state()));
    BindBlob(update, 3, Serialize(study));
    update.bind(4, study.id());
    if (update.exec() == 0) {
      return absl::NotFoundError(absl::StrCat("no study has id ", study.id()));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Study> SqliteStore::GetStudy(int64_t study_id) {
  return Read<v1::Study>(
      *readers_, absl::StrCat("reading study ", study_id),
      [study_id](SQLite::Database& db) -> absl::StatusOr<v1::Study> {
        SQLite::Statement query(db, "SELECT proto FROM studies WHERE id = ?");
        query.bind(1, study_id);
        if (!query.executeStep()) {
          return absl::NotFoundError(
              absl::StrCat("no study has id ", study_id));
        }
        return Parse<v1::Study>(query.getColumn(0),
                                absl::StrCat("study ", study_id));
      });
}

absl::StatusOr<v1::Study> SqliteStore::FindStudy(absl::string_view name) {
  const std::string key(name);
  return Read<v1::Study>(
      *readers_, absl::StrCat("finding study '", key, "'"),
      [&key](SQLite::Database& db) -> absl::StatusOr<v1::Study> {
        SQLite::Statement query(db, "SELECT proto FROM studies WHERE name = ?");
        query.bind(1, key);
        if (!query.executeStep()) {
          return absl::NotFoundError(
              absl::StrCat("no study is named '", key, "'"));
        }
        return Parse<v1::Study>(query.getColumn(0),
                                absl::StrCat("study '", key, "'"));
      });
}

absl::StatusOr<std::vector<v1::Study>> SqliteStore::ListStudies() {
  using Studies = std::vector<v1::Study>;
  return Read<Studies>(
      *readers_, "listing studies",
      [](SQLite::Database& db) -> absl::StatusOr<Studies> {
        SQLite::Statement query(db,
                                "SELECT id, proto FROM studies ORDER BY id");
        Studies studies;
        while (query.executeStep()) {
          absl::StatusOr<v1::Study> study = Parse<v1::Study>(
              query.getColumn(1),
              absl::StrCat("study ", query.getColumn(0).getInt64()));
          if (!study.ok()) return study.status();
          studies.push_back(*std::move(study));
        }
        return studies;
      });
}

absl::StatusOr<std::vector<v1::Trial>> SqliteStore::CreateTrials(
    std::vector<v1::Trial> trials) {
  for (v1::Trial& trial : trials) {
    trial.clear_id();
    trial.clear_measurements();
  }
  if (trials.empty()) return trials;
  absl::Status status =
      writer_->Submit([&trials](SQLite::Database& db) -> absl::Status {
        for (v1::Trial& trial : trials) {
          if (absl::Status inserted = InsertTrial(db, trial); !inserted.ok()) {
            return inserted;
          }
        }
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return trials;
}

absl::Status SqliteStore::UpdateTrial(const v1::Trial& trial) {
  v1::Trial stored = trial;
  stored.clear_measurements();
  return writer_->Submit([&stored](SQLite::Database& db) -> absl::Status {
    if (!TrialExists(db, stored.id())) {
      return absl::NotFoundError(absl::StrCat("no trial has id ", stored.id()));
    }
    if (!StudyExists(db, stored.study_id())) {
      return absl::InvalidArgumentError(
          absl::StrCat("trial ", stored.id(), " names study ",
                       stored.study_id(), ", which does not exist"));
    }
    SQLite::Statement update(
        db,
        "UPDATE trials SET study_id = ?, number = ?, "
        "state = ?, objective = ?, proto = ?, params = ? WHERE id = ?");
    update.bind(1, stored.study_id());
    update.bind(2, stored.number());
    update.bind(3, static_cast<int32_t>(stored.state()));
    BindReal(update, 4, Objective(stored));
    BindBlob(update, 5, Serialize(stored));
    update.bind(6, ParamsJson(stored));
    update.bind(7, stored.id());
    update.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Trial> SqliteStore::GetTrial(int64_t trial_id) {
  return Read<v1::Trial>(
      *readers_, absl::StrCat("reading trial ", trial_id),
      [trial_id](SQLite::Database& db) -> absl::StatusOr<v1::Trial> {
        SQLite::Statement query(db, "SELECT proto FROM trials WHERE id = ?");
        query.bind(1, trial_id);
        if (!query.executeStep()) {
          return absl::NotFoundError(
              absl::StrCat("no trial has id ", trial_id));
        }
        return Parse<v1::Trial>(query.getColumn(0),
                                absl::StrCat("trial ", trial_id));
      });
}

absl::StatusOr<std::vector<v1::Trial>> SqliteStore::ListTrials(
    int64_t study_id) {
  using Trials = std::vector<v1::Trial>;
  return Read<Trials>(
      *readers_, absl::StrCat("listing the trials of study ", study_id),
      [study_id](SQLite::Database& db) -> absl::StatusOr<Trials> {
        if (!StudyExists(db, study_id)) {
          return absl::NotFoundError(
              absl::StrCat("no study has id ", study_id));
        }
        SQLite::Statement query(
            db,
            "SELECT id, proto FROM trials WHERE study_id = ? ORDER BY number");
        query.bind(1, study_id);
        Trials trials;
        while (query.executeStep()) {
          absl::StatusOr<v1::Trial> trial = Parse<v1::Trial>(
              query.getColumn(1),
              absl::StrCat("trial ", query.getColumn(0).getInt64()));
          if (!trial.ok()) return trial.status();
          trials.push_back(*std::move(trial));
        }
        return trials;
      });
}

namespace {

// The WHERE clause of a TrialQuery (after "WHERE") and a binder of its
// values, starting at index 1.
struct TrialFilter {
  std::string sql;
  std::function<int(SQLite::Statement&)> bind;  // returns the next index
};

TrialFilter MakeTrialFilter(const TrialQuery& query) {
  std::vector<std::string> terms = {"study_id = ?"};
  if (!query.states.empty()) {
    std::vector<std::string> marks(query.states.size(), "?");
    terms.push_back(absl::StrCat("state IN (", absl::StrJoin(marks, ", "), ")"));
  }
  for (size_t i = 0; i < query.parameter_ranges.size(); ++i) {
    // A string (categorical) value compares above every number in SQLite,
    // so it is never <= max; a missing one is NULL: neither matches.
    terms.push_back("json_extract(params, ?) BETWEEN ? AND ?");
  }
  return TrialFilter{
      .sql = absl::StrJoin(terms, " AND "),
      .bind = [&query](SQLite::Statement& statement) {
        int index = 1;
        statement.bind(index++, query.study_id);
        for (v1::Trial::State state : query.states) {
          statement.bind(index++, static_cast<int32_t>(state));
        }
        for (const TrialQuery::ParameterRange& range : query.parameter_ranges) {
          statement.bind(index++, ParamPath(range.name));
          statement.bind(index++, range.min);
          statement.bind(index++, range.max);
        }
        return index;
      }};
}

std::string TrialOrderSql(const TrialQuery& query) {
  const char* direction = query.descending ? "DESC" : "ASC";
  switch (query.order) {
    case TrialQuery::Order::kNumber:
      return absl::StrCat("number ", direction);
    case TrialQuery::Order::kObjective:
      return absl::StrCat("objective IS NULL, objective ", direction,
                          ", number");
    case TrialQuery::Order::kState:
      return absl::StrCat("state ", direction, ", number");
    case TrialQuery::Order::kParameter:
      // The path is bound as the last parameter (twice).
      return absl::StrCat("json_extract(params, ?) IS NULL, ",
                          "json_extract(params, ?) ", direction, ", number");
  }
  return "number";
}

}  // namespace

absl::StatusOr<TrialPage> SqliteStore::QueryTrials(const TrialQuery& query) {
  if (query.offset < 0) {
    return absl::InvalidArgumentError("offset: must not be negative");
  }
  if (query.limit < 1) {
    return absl::InvalidArgumentError("limit: must be at least 1");
  }
  if (query.order == TrialQuery::Order::kParameter &&
      query.order_parameter.empty()) {
    return absl::InvalidArgumentError(
        "order_parameter: needed to sort by a parameter");
  }
  return Read<TrialPage>(
      *readers_, absl::StrCat("querying the trials of study ", query.study_id),
      [&query](SQLite::Database& db) -> absl::StatusOr<TrialPage> {
        if (!StudyExists(db, query.study_id)) {
          return absl::NotFoundError(
              absl::StrCat("no study has id ", query.study_id));
        }
        const TrialFilter filter = MakeTrialFilter(query);
        TrialPage page;
        SQLite::Statement count(
            db, absl::StrCat("SELECT COUNT(*) FROM trials WHERE ", filter.sql));
        filter.bind(count);
        count.executeStep();
        page.total = count.getColumn(0).getInt64();

        SQLite::Statement rows(
            db, absl::StrCat("SELECT id, proto FROM trials WHERE ", filter.sql,
                             " ORDER BY ", TrialOrderSql(query),
                             " LIMIT ? OFFSET ?"));
        int index = filter.bind(rows);
        if (query.order == TrialQuery::Order::kParameter) {
          const std::string path = ParamPath(query.order_parameter);
          rows.bind(index++, path);
          rows.bind(index++, path);
        }
        rows.bind(index++, query.limit);
        rows.bind(index++, query.offset);
        while (rows.executeStep()) {
          absl::StatusOr<v1::Trial> trial = Parse<v1::Trial>(
              rows.getColumn(1),
              absl::StrCat("trial ", rows.getColumn(0).getInt64()));
          if (!trial.ok()) return trial.status();
          page.trials.push_back(*std::move(trial));
        }
        return page;
      });
}

absl::StatusOr<std::vector<TrialStateCount>> SqliteStore::CountTrials() {
  using Counts = std::vector<TrialStateCount>;
  return Read<Counts>(
      *readers_, "counting trials",
      [](SQLite::Database& db) -> absl::StatusOr<Counts> {
        // Answered from the trials_by_study_state index alone.
        SQLite::Statement query(db,
                                "SELECT study_id, state, COUNT(*) FROM trials "
                                "GROUP BY study_id, state");
        Counts counts;
        while (query.executeStep()) {
          counts.push_back(TrialStateCount{
              .study_id = query.getColumn(0).getInt64(),
              .state = static_cast<v1::Trial::State>(query.getColumn(1).getInt()),
              .count = query.getColumn(2).getInt64()});
        }
        return counts;
      });
}

absl::StatusOr<std::vector<MetricPoint>> SqliteStore::ListMetricValues(
    const std::vector<int64_t>& trial_ids, absl::string_view metric) {
  using Points = std::vector<MetricPoint>;
  if (trial_ids.size() > kMaxMetricTrials) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial_ids: at most ", kMaxMetricTrials, " at once, not ",
                     trial_ids.size()));
  }
  if (trial_ids.empty()) return Points{};
  const std::string name(metric);
  return Read<Points>(
      *readers_, absl::StrCat("listing the values of metric '", name, "'"),
      [&trial_ids, &name](SQLite::Database& db) -> absl::StatusOr<Points> {
        std::vector<std::string> marks(trial_ids.size(), "?");
        // Each id is a range of the primary key (trial_id, step, metric).
        SQLite::Statement query(
            db, absl::StrCat("SELECT trial_id, step, value FROM measurements "
                             "WHERE trial_id IN (",
                             absl::StrJoin(marks, ", "),
                             ") AND metric = ? ORDER BY trial_id, step"));
        int index = 1;
        for (int64_t id : trial_ids) query.bind(index++, id);
        query.bind(index, name);
        Points points;
        while (query.executeStep()) {
          points.push_back(MetricPoint{.trial_id = query.getColumn(0).getInt64(),
                                       .step = query.getColumn(1).getInt64(),
                                       .value = ReadReal(query.getColumn(2))});
        }
        return points;
      });
}

absl::Status Store::AddMeasurements(int64_t trial_id,
                                    std::vector<v1::Measurement> measurements) {
  std::promise<absl::Status> promise;
  std::future<absl::Status> outcome = promise.get_future();
  AddMeasurementsAsync(trial_id, std::move(measurements),
                       [&promise](absl::Status status) {
                         promise.set_value(std::move(status));
                       });
  return outcome.get();
}

void SqliteStore::AddMeasurementsAsync(
    int64_t trial_id, std::vector<v1::Measurement> measurements,
    std::function<void(absl::Status)> done) {
  // The hot path of trial reports: its statements are prepared once.
  static constexpr char kTrialExists[] = "SELECT 1 FROM trials WHERE id = ?";
  static constexpr char kUpsert[] =
      "INSERT INTO measurements (trial_id, step, metric, value, time_us) "
      "VALUES (?, ?, ?, ?, ?) ON CONFLICT (trial_id, step, metric) "
      "DO UPDATE SET value = excluded.value, time_us = excluded.time_us";
  GroupedWriter* writer = writer_.get();
  writer->SubmitAsync(
      [writer, trial_id, measurements = std::move(measurements)](
          SQLite::Database&) -> absl::Status {
        SQLite::Statement& exists = writer->Prepared(kTrialExists);
        exists.bind(1, trial_id);
        const bool found = exists.executeStep();
        exists.reset();  // no statement stays active past its use
        if (!found) {
          return absl::NotFoundError(
              absl::StrCat("no trial has id ", trial_id));
        }
        SQLite::Statement& upsert = writer->Prepared(kUpsert);
        for (const v1::Measurement& measurement : measurements) {
          for (const auto& [metric, value] : measurement.metrics()) {
            upsert.bind(1, trial_id);
            upsert.bind(2, measurement.step());
            upsert.bindNoCopy(3, metric);  // `metric` outlives exec()
            BindReal(upsert, 4, value);
            if (measurement.has_time()) {
              upsert.bind(5, ToMicros(measurement.time()));
            } else {
              upsert.bind(5);
            }
            upsert.exec();
            upsert.reset();
          }
        }
        return absl::OkStatus();
      },
      std::move(done));
}

absl::StatusOr<std::vector<v1::Measurement>> SqliteStore::ListMeasurements(
    int64_t trial_id) {
  using Measurements = std::vector<v1::Measurement>;
  return Read<Measurements>(
      *readers_, absl::StrCat("listing the measurements of trial ", trial_id),
      [trial_id](SQLite::Database& db) -> absl::StatusOr<Measurements> {
        if (!TrialExists(db, trial_id)) {
          return absl::NotFoundError(
              absl::StrCat("no trial has id ", trial_id));
        }
        SQLite::Statement query(
            db,
            "SELECT step, metric, value, time_us FROM measurements "
            "WHERE trial_id = ? ORDER BY step, metric");
        query.bind(1, trial_id);
        Measurements measurements;
        // The newest time among the rows of the step being read; kNoTime
        // while none of them has a time.
        constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();
        int64_t newest = kNoTime;
        auto finish_step = [&measurements, &newest] {
          if (!measurements.empty() && newest != kNoTime) {
            *measurements.back().mutable_time() = FromMicros(newest);
          }
          newest = kNoTime;
        };
        while (query.executeStep()) {
          const int64_t step = query.getColumn(0).getInt64();
          if (measurements.empty() || measurements.back().step() != step) {
            finish_step();
            measurements.emplace_back().set_step(step);
          }
          const std::string metric = query.getColumn(1).getString();
          (*measurements.back().mutable_metrics())[metric] =
              ReadReal(query.getColumn(2));
          if (const SQLite::Column time = query.getColumn(3); !time.isNull()) {
            newest = std::max(newest, time.getInt64());
          }
        }
        finish_step();
        return measurements;
      });
}

}  // namespace vernier::storage
