// Partition listing for replication: Swift 2.30's DiskFileManager.yield_suffixes and
// yield_hashes for replication policies.
//
// ListSuffixes names the suffix dirs of a partition; ForEachObject walks one suffix,
// cleaning up each hash dir by Swift's rules (ondisk_files.h) and handing over the
// files each object keeps: the one partition iterator every sender uses (native reads
// the files it names; YieldHashes reports their timestamps, which is what SSYNC's
// missing_check sends).
//
// Thread-safety: thread-safe; concurrent writers to the suffix are tolerated as in
// Swift (a hash dir that vanishes meanwhile is skipped).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/timestamp.h"

namespace replicant::diskfile {

// Names of the suffix dirs in a partition dir: 3 hex characters (yield_suffixes).
std::vector<std::string> ListSuffixes(const std::string& partition_dir);

// Swift's yield_hashes walk of one suffix dir: cleans up each hash dir (reclaim_age
// against now_seconds) and calls `visit` with those that still have a .data or .ts,
// sorted by hash. When no hash dir has files left the suffix is invalidated, as Swift
// does. Entries that are not dirs are skipped (Swift would raise); a missing suffix
// dir, or a file in its place, yields nothing. Any other error (EIO, EMFILE) stops the
// walk and is returned, so no object after it is ever taken for absent.
Status ForEachObject(const std::string& suffix_dir, int64_t reclaim_age, double now_seconds,
                     const std::function<void(const std::string& hash, const OnDiskFiles&)>& visit);

struct HashTimestamps {
  std::string hash;
  Timestamp ts_data;                  // of the .data or .ts
  std::optional<Timestamp> ts_meta;   // newest .meta, only with a .data
  std::optional<Timestamp> ts_ctype;  // content-type timestamp of the ctype .meta
  bool durable = true;                // always, for replication policies
  bool tombstone = false;             // ts_data is a .ts
};

// ForEachObject's objects with their timestamps.
Result<std::vector<HashTimestamps>> YieldHashes(const std::string& suffix_dir,
                                                int64_t reclaim_age, double now_seconds);

}  // namespace replicant::diskfile
