// The server side of bench/ingest, wired as `vernier serve` wires it: a
// SqliteStore on a file, a StudyManager with the local executor, and a
// GrpcServer on 127.0.0.1:0. One study runs N real, idle workers
// (`sleep 600`, push collector, parallel N), so N trials are RUNNING and each
// has its own token, which the fixture learns from the launches the
// controller hands the executor.
#ifndef VERNIER_BENCH_INGEST_FIXTURE_H_
#define VERNIER_BENCH_INGEST_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/study_manager.h"
#include "server/grpc_server.h"
#include "storage/sqlite_store.h"

namespace vernier::bench {

// A running trial and the token its worker got (VERNIER_TOKEN).
struct BenchTrial {
  int64_t trial_id = 0;
  std::string token;
};

// Records the token of each launch; defined in ingest_fixture.cc.
class TokenBook;

// Not thread-safe itself; the objects it exposes are.
class IngestFixture {
 public:
  // Opens `<dir>/vernier.db` (the folder is created; an old database in it
  // is removed), starts the manager and the server, starts the study with
  // `trials` parallel workers and waits (up to a minute) until every one of
  // them runs and accepts reports over gRPC.
  static absl::StatusOr<std::unique_ptr<IngestFixture>> Start(
      const std::string& dir, int trials);

  // Stops the study (its workers), shuts the server down, then the manager.
  ~IngestFixture();
  IngestFixture(const IngestFixture&) = delete;
  IngestFixture& operator=(const IngestFixture&) = delete;

  // Stops the study and shuts everything down; later calls do nothing.
  void Stop();

  const std::string& address() const { return server_->address(); }
  const std::vector<BenchTrial>& trials() const { return trials_; }
  storage::SqliteStore* store() const { return store_.get(); }
  controller::StudyManager* manager() const { return manager_.get(); }
  const std::string& db_path() const { return db_path_; }

 private:
  IngestFixture() = default;

  std::string db_path_;
  std::shared_ptr<TokenBook> tokens_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<controller::StudyManager> manager_;
  std::unique_ptr<server::GrpcServer> server_;
  std::vector<BenchTrial> trials_;
  bool stopped_ = false;
};

}  // namespace vernier::bench

#endif  // VERNIER_BENCH_INGEST_FIXTURE_H_
