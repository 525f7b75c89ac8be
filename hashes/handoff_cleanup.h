// Handoff cleanup after a protocol sync (SSYNC, native): Swift's delete_handoff_objs
// for one partition.
//
// After every target node confirmed a set of objects (SyncResult::in_sync_objects),
// a handoff removes exactly those hash dirs (rmtree), then each suffix dir if it is
// now empty (rmdir, as Swift does), and finally the partition dir itself once no
// suffix dir is left in it, so objects written to the handoff during the sync stay.
// Thread-safe for different partitions; the caller holds the partition's
// replication lock.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace replicant::hashes {

struct HandoffCleanup {
  size_t removed = 0;                    // hash dirs removed
  std::vector<std::string> error_paths;  // suffix dirs that failed other than ENOENT/ENOTEMPTY
  std::vector<std::string> errors;       // one message per error path, for the caller's log
  bool partition_removed = false;
};

HandoffCleanup DeleteHandoffObjects(const std::string& partition_dir,
                                    const std::set<std::string>& hashes);

}  // namespace replicant::hashes
