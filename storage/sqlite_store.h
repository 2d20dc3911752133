// SqliteStore: the Store kept in one SQLite file.
//
// Writes go through one GroupedWriter (one connection, one thread, group
// commit); reads use their own read-only connections, which WAL mode lets run
// alongside the writer and see every committed write. The file is in WAL mode
// with synchronous=FULL, so a write acknowledged by this store survives a
// crash of the process and a loss of power.
#ifndef VERNIER_STORAGE_SQLITE_STORE_H_
#define VERNIER_STORAGE_SQLITE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/grouped_writer.h"
#include "storage/store.h"
#include "vernier/v1/study.pb.h"

namespace vernier::storage {

// Read-only connections to one file; defined in sqlite_store.cc.
class ReaderPool;

struct SqliteStoreOptions {
  // Told of each committed write transaction (see GroupedWriter).
  GroupedWriter::CommitObserver on_commit;
  // Test-only: a limits file for the writer (see writer_limits.h); empty
  // for none.
  std::string test_limits_file;
};

// Opens the database at `path` as a Store; see SqliteStore::Open.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    const std::string& path, SqliteStoreOptions options = {});

// Thread ownership: every method is thread-safe. The writer's connection
// belongs to the GroupedWriter's thread; each read borrows a connection of
// the reader pool for its duration.
class SqliteStore final : public Store {
 public:
  // Opens the database at `path`, creating the file if it is missing, and
  // brings its schema to the current version. UNAVAILABLE when the file
  // cannot be opened or created; FAILED_PRECONDITION when it is not a SQLite
  // database or was written by a newer Vernier. Every message names `path`.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const std::string& path, SqliteStoreOptions options = {});

  // Waits for the writes already submitted, then closes the file.
  ~SqliteStore() override;

  absl::StatusOr<v1::Study> CreateStudy(v1::Study study) override;
  absl::Status UpdateStudy(const v1::Study& study) override;
  absl::StatusOr<v1::Study> GetStudy(int64_t study_id) override;
  absl::StatusOr<v1::Study> FindStudy(absl::string_view name) override;
  absl::StatusOr<std::vector<v1::Study>> ListStudies() override;
  absl::StatusOr<std::vector<v1::Trial>> CreateTrials(
      std::vector<v1::Trial> trials) override;
  absl::Status UpdateTrial(const v1::Trial& trial) override;
  absl::StatusOr<v1::Trial> GetTrial(int64_t trial_id) override;
  absl::StatusOr<std::vector<v1::Trial>> ListTrials(int64_t study_id) override;
  absl::StatusOr<TrialPage> QueryTrials(const TrialQuery& query) override;
  absl::StatusOr<std::vector<TrialStateCount>> CountTrials() override;
  void AddMeasurementsAsync(int64_t trial_id,
                            std::vector<v1::Measurement> measurements,
                            std::function<void(absl::Status)> done) override;
  absl::StatusOr<std::vector<v1::Measurement>> ListMeasurements(
      int64_t trial_id) override;
  absl::StatusOr<std::vector<MetricPoint>> ListMetricValues(
      const std::vector<int64_t>& trial_ids, absl::string_view metric) override;

  // How many writes ran in how many transactions so far.
  GroupedWriter::Stats writer_stats() const { return writer_->stats(); }

 private:
  SqliteStore(std::string path, std::unique_ptr<GroupedWriter> writer,
              std::unique_ptr<ReaderPool> readers);

  const std::string path_;
  const std::unique_ptr<ReaderPool> readers_;
  const std::unique_ptr<GroupedWriter> writer_;
};

}  // namespace vernier::storage

#endif  // VERNIER_STORAGE_SQLITE_STORE_H_
