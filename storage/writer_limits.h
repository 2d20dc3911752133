// WriterLimits: storage faults on demand, for tests of a whole server.
//
// A limits file holds `name=value` lines, each a SQLite pragma that the
// writer's connection applies before its next batch once the file has
// changed (size or modification time). Two are accepted:
//   max_page_count=N  the database may hold at most N pages (SQLite clamps N
//                     to the current size): writes that need a new page fail
//                     as on a full disk (SQLITE_FULL), until N is raised.
//   query_only=0|1    1: every write fails as on a read-only database
//                     (SQLITE_READONLY), until set back to 0.
// So a test drives real SQLite errors through the real server, and takes
// them back, without privileges to mount a small or read-only filesystem.
// `vernier serve` and `vernier run` read the file named by
// $VERNIER_TEST_STORAGE_LIMITS; nothing else does. Not for production.
#ifndef VERNIER_STORAGE_WRITER_LIMITS_H_
#define VERNIER_STORAGE_WRITER_LIMITS_H_

#include <string>

#include "storage/grouped_writer.h"

namespace vernier::storage {

// A BatchPreparer that applies the limits in `path` as above. A missing file
// applies nothing; a line that is not an accepted `name=value` is logged and
// skipped. The returned function belongs to one writer thread.
GroupedWriter::BatchPreparer WriterLimitsFromFile(std::string path);

}  // namespace vernier::storage

#endif  // VERNIER_STORAGE_WRITER_LIMITS_H_
