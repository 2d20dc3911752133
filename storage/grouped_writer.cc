#include "storage/grouped_writer.h"

#include <pthread.h>
#include <sqlite3.h>

#include <exception>
#include <utility>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Exception.h"
#include "SQLiteCpp/Statement.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace vernier::storage {
namespace {

constexpr char kBeginSavepoint[] = "SAVEPOINT vernier_write";
constexpr char kRelease[] = "RELEASE vernier_write";
constexpr char kRollbackTo[] = "ROLLBACK TO vernier_write";

// What happened to one write inside the batch's transaction.
struct WriteOutcome {
  absl::Status status;
  // The transaction can no longer be committed as it is: SQLite rolled it
  // back itself (disk full, I/O error) or the savepoint could not be undone.
  bool transaction_broken = false;
};

bool InTransaction(SQLite::Database& db) {
  return sqlite3_get_autocommit(db.getHandle()) == 0;
}

WriteOutcome RunInSavepoint(GroupedWriter& writer, SQLite::Database& db,
                            const Write& write) {
  try {
    writer.Prepared(kBeginSavepoint).exec();
  } catch (const SQLite::Exception& e) {
    return {SqliteErrorToStatus(e, "cannot start a savepoint"), false};
  }
  absl::Status status;
  try {
    status = write(db);
  } catch (const SQLite::Exception& e) {
    status = SqliteErrorToStatus(e, "write failed");
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("write failed: ", e.what()));
  } catch (...) {
    status = absl::InternalError("write failed with an unknown exception");
  }
  if (!InTransaction(db)) {
    if (status.ok()) {
      status = absl::UnavailableError(
          "the write transaction was rolled back by SQLite; nothing was "
          "stored");
    }
    return {std::move(status), true};
  }
  try {
    if (!status.ok()) writer.Prepared(kRollbackTo).exec();
    writer.Prepared(kRelease).exec();
  } catch (const SQLite::Exception& e) {
    absl::Status cleanup = SqliteErrorToStatus(e, "cannot end a savepoint");
    return {status.ok() ? cleanup : status, true};
  }
  return {std::move(status), false};
}

}  // namespace

absl::Status SqliteErrorToStatus(const SQLite::Exception& error,
                                 absl::string_view context) {
  const int code = error.getErrorCode();
  const int extended = error.getExtendedErrorCode();
  const std::string detail = absl::StrCat(context, ": ", error.what());
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      if (extended == SQLITE_CONSTRAINT_UNIQUE ||
          extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(detail);
      }
      return absl::InvalidArgumentError(detail);
    case SQLITE_FULL:
      return absl::UnavailableError(
          absl::StrCat(context, ": the disk is full (", error.what(), ")"));
    case SQLITE_READONLY:
      return absl::UnavailableError(absl::StrCat(
          context, ": the database is read-only (", error.what(), ")"));
    case SQLITE_IOERR:
      return absl::UnavailableError(
          absl::StrCat(context, ": disk I/O error (", error.what(), ")"));
    case SQLITE_CANTOPEN:
      return absl::UnavailableError(
          absl::StrCat(context, ": cannot open the file (", error.what(), ")"));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(absl::StrCat(
          context, ": the database is locked by another connection (",
          error.what(), ")"));
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::FailedPreconditionError(absl::StrCat(
          context, ": not a valid database file (", error.what(), ")"));
    default:
      return absl::InternalError(detail);
  }
}

GroupedWriter::GroupedWriter(std::unique_ptr<SQLite::Database> db,
                             CommitObserver on_commit,
                             BatchPreparer before_batch)
    : db_(std::move(db)),
      on_commit_(std::move(on_commit)),
      before_batch_(std::move(before_batch)),
      completion_thread_([this] {
        pthread_setname_np(pthread_self(), "store-acks");
        RunCompletions();
      }),
      thread_([this] {
        pthread_setname_np(pthread_self(), "store-writer");
        Run();
      }) {}

GroupedWriter::~GroupedWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    writer_ended_ = true;
  }
  completions_wake_.notify_one();
  completion_thread_.join();
}

absl::Status GroupedWriter::Submit(Write write) {
  std::promise<absl::Status> promise;
  std::future<absl::Status> future = promise.get_future();
  SubmitAsync(std::move(write), [&promise](absl::Status status) {
    promise.set_value(std::move(status));
  });
  return future.get();
}

void GroupedWriter::SubmitAsync(Write write,
                                std::function<void(absl::Status)> done) {
  auto entry = std::make_unique<Entry>();
  entry->write = std::move(write);
  entry->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(entry));
      ++stats_.pending;
      // Under the lock: once it is released, the writer may run this entry.
      wake_.notify_one();
      return;
    }
  }
  entry->done(absl::UnavailableError("the storage writer is shutting down"));
}

SQLite::Statement& GroupedWriter::Prepared(const char* sql) {
  std::unique_ptr<SQLite::Statement>& statement = statements_[sql];
  if (statement == nullptr) {
    statement = std::make_unique<SQLite::Statement>(*db_, sql);
  }
  statement->reset();
  statement->clearBindings();
  return *statement;
}

GroupedWriter::Stats GroupedWriter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void GroupedWriter::Run() {
  while (true) {
    std::deque<std::unique_ptr<Entry>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !queue_.empty() || stopping_;
      });
      if (queue_.empty()) return;  // stopping, and everything is drained
      batch.swap(queue_);
      stats_.pending = 0;
    }
    RunBatch(batch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_.push_back(std::move(batch));
    }
    completions_wake_.notify_one();
  }
}

void GroupedWriter::RunCompletions() {
  while (true) {
    std::deque<Batch> batches;
    {
      std::unique_lock<std::mutex> lock(mu_);
      completions_wake_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !finished_.empty() || writer_ended_;
      });
      if (finished_.empty()) return;  // the writer ended, all answered
      batches.swap(finished_);
    }
    for (Batch& batch : batches) {
      for (const std::unique_ptr<Entry>& entry : batch) {
        entry->done(std::move(entry->status));
      }
    }
  }
}

void GroupedWriter::RunBatch(const Batch& batch) {
  SQLite::Database& db = *db_;
  Stats delta;
  // Writes that succeeded inside the open transaction; they become durable
  // only if it commits.
  std::vector<Entry*> uncommitted;
  auto fail_uncommitted = [&uncommitted](const absl::Status& status) {
    for (Entry* entry : uncommitted) entry->status = status;
    uncommitted.clear();
  };
  auto abandon_transaction = [&db] {
    if (!InTransaction(db)) return;
    try {
      db.exec("ROLLBACK");
    } catch (const SQLite::Exception& e) {
      spdlog::error("storage: rollback of a failed batch failed: {}", e.what());
    }
  };

  if (before_batch_) {
    try {
      before_batch_(db);
    } catch (const std::exception& e) {
      spdlog::error("storage: preparing a batch failed: {}", e.what());
    }
  }

  bool began = false;
  for (const std::unique_ptr<Entry>& owned : batch) {
    Entry* entry = owned.get();
    if (!began) {
      try {
        db.exec("BEGIN IMMEDIATE");
        began = true;
        ++delta.batches;
      } catch (const SQLite::Exception& e) {
        entry->status =
            SqliteErrorToStatus(e, "cannot begin a write transaction");
        continue;
      }
    }
    ++delta.writes;
    WriteOutcome outcome = RunInSavepoint(*this, db, entry->write);
    entry->status = std::move(outcome.status);
    if (!outcome.transaction_broken) {
      if (entry->status.ok()) uncommitted.push_back(entry);
      continue;
    }
    spdlog::error("storage: a write broke its batch's transaction: {}",
                  entry->status.ToString());
    abandon_transaction();
    began = false;
    fail_uncommitted(absl::UnavailableError(absl::StrCat(
        "not stored: another write of the same transaction failed (",
        entry->status.message(), ")")));
  }
  if (began) {
    try {
      const auto commit_start = std::chrono::steady_clock::now();
      db.exec("COMMIT");
      ++delta.commits;
      if (on_commit_) {
        on_commit_(static_cast<size_t>(delta.writes),
                   std::chrono::steady_clock::now() - commit_start);
      }
    } catch (const SQLite::Exception& e) {
      const absl::Status commit = SqliteErrorToStatus(e, "commit failed");
      spdlog::error("storage: {}", commit.ToString());
      abandon_transaction();
      fail_uncommitted(absl::UnavailableError(
          absl::StrCat("not stored: ", commit.message())));
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  stats_.writes += delta.writes;
  stats_.batches += delta.batches;
  stats_.commits += delta.commits;
}

}  // namespace vernier::storage
