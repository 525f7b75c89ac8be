// Partition listing for replication: Swift 2.30's DiskFileManager.yield_suffixes and
// yield_hashes for replication policies.
//
// ListSuffixes names the suffix dirs of a partition; YieldHashes walks one suffix,
// cleaning up each hash dir by Swift's rules (ondisk_files.h) and reporting the
// timestamps of what each object holds, which is what SSYNC's missing_check sends.
//
// Thread-safety: thread-safe; concurrent writers to the suffix are tolerated as in
// Swift (a hash dir that vanishes meanwhile is skipped).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "diskfile/timestamp.h"

namespace replicant::diskfile {

// Names of the suffix dirs in a partition dir: 3 hex characters (yield_suffixes).
std::vector<std::string> ListSuffixes(const std::string& partition_dir);

struct HashTimestamps {
  std::string hash;
  Timestamp ts_data;                  // of the .data or .ts
  std::optional<Timestamp> ts_meta;   // newest .meta, only with a .data
  std::optional<Timestamp> ts_ctype;  // content-type timestamp of the ctype .meta
  bool durable = true;                // always, for replication policies
  bool tombstone = false;             // ts_data is a .ts
};

// Swift's yield_hashes for one suffix dir: cleans up each hash dir (reclaim_age
// against now_seconds) and reports those that still have a .data or .ts, sorted
// by hash. When no hash dir has files left the suffix is invalidated, as Swift
// does. Entries that are not dirs are skipped (Swift would raise). A missing
// suffix dir yields nothing; any other error listing a hash dir is returned.
Result<std::vector<HashTimestamps>> YieldHashes(const std::string& suffix_dir,
                                                int64_t reclaim_age, double now_seconds);

}  // namespace replicant::diskfile
