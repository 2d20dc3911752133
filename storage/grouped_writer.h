// GroupedWriter: the one thread that writes a SQLite database, committing
// every write that is pending at once in one transaction (group commit).
//
// A caller submits a Write and blocks until it is durable or has failed. The
// writer thread takes everything pending, runs it in one BEGIN IMMEDIATE ...
// COMMIT, each write inside its own SAVEPOINT: a write that fails (returns an
// error or throws) is rolled back alone and gets its own error while the
// others commit. When the COMMIT fails, every write of the batch that had
// succeeded gets UNAVAILABLE and none of the batch is stored.
//
// Completions (the `done` of SubmitAsync) run on a second thread, in commit
// order, so that what they do (answering an RPC, waking a controller) never
// delays the next transaction.
//
// A Write runs on the writer thread with the writer's connection; it must not
// keep the connection, start or end transactions itself, or block on other
// writes. SQLiteCpp exceptions it throws are mapped to statuses (see
// SqliteErrorToStatus).
#ifndef VERNIER_STORAGE_GROUPED_WRITER_H_
#define VERNIER_STORAGE_GROUPED_WRITER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace SQLite {
class Database;
class Exception;
class Statement;
}  // namespace SQLite

namespace vernier::storage {

// One unit of work for the writer. It runs inside a savepoint of the batch's
// transaction; a non-OK status (or an exception) rolls back only its changes.
using Write = std::function<absl::Status(SQLite::Database&)>;

// Maps a SQLiteCpp error to a status whose message starts with `context`:
// a UNIQUE or PRIMARY KEY violation -> ALREADY_EXISTS; another constraint
// (foreign key, NOT NULL, CHECK) -> INVALID_ARGUMENT; disk full, read-only
// database, I/O error, busy or locked -> UNAVAILABLE; not a database or
// corrupt -> FAILED_PRECONDITION; anything else -> INTERNAL.
absl::Status SqliteErrorToStatus(const SQLite::Exception& error,
                                 absl::string_view context);

// Thread ownership: the writer thread ("store-writer") alone uses `db_` and
// `statements_` after construction; the completion thread ("store-acks")
// alone runs `done` callbacks. `mu_` guards the queues and the counters,
// which any thread may touch through Submit(), SubmitAsync() and stats(). A
// blocked submitter waits on its own future, never on `mu_`.
class GroupedWriter final {
 public:
  struct Stats {
    int64_t writes = 0;   // writes run (succeeded or failed)
    int64_t batches = 0;  // transactions begun, one per group of writes
    int64_t commits = 0;  // transactions committed
    int64_t pending = 0;  // writes submitted and not yet taken by the writer
  };

  // Told of each committed transaction: how many writes it ran, and how long
  // its COMMIT took (the sync to disk). Runs on the writer thread; must be
  // quick.
  using CommitObserver =
      std::function<void(size_t writes, std::chrono::nanoseconds commit)>;

  // Runs on the writer thread before each batch's transaction, with the
  // writer's connection (to change its pragmas); must be quick. An exception
  // it throws is logged and the batch runs anyway.
  using BatchPreparer = std::function<void(SQLite::Database&)>;

  // Takes the connection and starts the writer thread. The connection should
  // already be configured (journal mode, synchronous, foreign keys).
  explicit GroupedWriter(std::unique_ptr<SQLite::Database> db,
                         CommitObserver on_commit = nullptr,
                         BatchPreparer before_batch = nullptr);

  // Runs every write already submitted and every completion (their
  // submitters get their statuses as usual), then stops both threads. No
  // Submit() may start once destruction has begun.
  ~GroupedWriter();

  GroupedWriter(const GroupedWriter&) = delete;
  GroupedWriter& operator=(const GroupedWriter&) = delete;

  // Runs `write` on the writer thread and returns its status once its batch
  // has committed (OK means durable) or once it has failed. Blocks the
  // caller; thread-safe.
  absl::Status Submit(Write write);

  // As Submit, without blocking: `done` gets the status, on the completion
  // thread (or at once on the caller's when the writer is stopping). `done`
  // should be quick (completions run one after another) and must not submit
  // writes and wait for them; it may submit without waiting.
  void SubmitAsync(Write write, std::function<void(absl::Status)> done);

  Stats stats() const;

  // `sql` prepared once on the writer's connection and kept, reset and with
  // its bindings cleared: for writes (which run on the writer thread) on
  // their hot paths. `sql` must be a string literal: its address is the key.
  // Writer thread only.
  SQLite::Statement& Prepared(const char* sql);

 private:
  // Owned by the queue, then by the writer thread until `done` has run.
  struct Entry {
    Write write;
    absl::Status status;
    std::function<void(absl::Status)> done;
  };

  using Batch = std::deque<std::unique_ptr<Entry>>;

  void Run();
  // Runs one batch; fills every entry's status. Called on the writer thread.
  void RunBatch(const Batch& batch);
  // Runs the `done` of each finished batch, in order, until stopped.
  void RunCompletions();

  std::unique_ptr<SQLite::Database> db_;  // writer thread only
  const CommitObserver on_commit_;
  const BatchPreparer before_batch_;
  // Writer thread only; declared after db_ so they are finalized first.
  std::map<const char*, std::unique_ptr<SQLite::Statement>> statements_;

  // std::mutex rather than absl::Mutex: ThreadSanitizer sees through it
  // (Debian's Abseil is not instrumented).
  mutable std::mutex mu_;
  std::condition_variable wake_;  // queue_ grew or stopping_ was set
  Batch queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // Batches whose statuses are final, waiting for their callbacks.
  std::condition_variable completions_wake_;  // finished_ grew or writer ended
  std::deque<Batch> finished_ ABSL_GUARDED_BY(mu_);
  bool writer_ended_ ABSL_GUARDED_BY(mu_) = false;

  // Started last, joined in the destructor (the writer first).
  std::thread completion_thread_;
  std::thread thread_;
};

}  // namespace vernier::storage

#endif  // VERNIER_STORAGE_GROUPED_WRITER_H_
