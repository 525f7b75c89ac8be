// Partition hashes: hashes.pkl, hashes.invalid and the per-suffix MD5s that
// replicators compare (Swift 2.30's get_hashes / consolidate_hashes / invalidate_hash).
//
// All reads and writes of a partition's hashes.pkl and hashes.invalid happen under
// an flock on <partition>/.lock, the same lock Swift's object server takes, so
// replicant and Swift processes sharing a disk stay consistent. Functions are
// thread-safe and process-safe through that lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "formats/status.h"

namespace replicant::hashes {

// suffix -> md5 hex (Swift's dict minus 'valid'/'updated').
using SuffixHashes = std::map<std::string, std::string>;

struct GetHashesOptions {
  std::vector<std::string> recalculate;  // suffixes to rehash regardless of the pickle
  bool do_listdir = false;               // also pick up every suffix dir on disk
  int64_t reclaim_age = 604800;          // seconds (Swift's default, one week)
};

struct GetHashesResult {
  SuffixHashes hashes;
  int hashed = 0;  // suffixes rehashed by this call (Swift's hashed count)
};

// Swift's get_hashes for a replication policy: consolidates hashes.invalid into
// hashes.pkl, rehashes what is invalid (cleaning up obsolete files on the way) and
// writes hashes.pkl back.
Result<GetHashesResult> GetHashes(const std::string& partition_dir, const GetHashesOptions& opts);

// Swift's invalidate_hash: appends "<suffix>\n" to <partition>/hashes.invalid under
// the partition lock. suffix_dir is <partition>/<suffix>.
Status InvalidateHash(const std::string& suffix_dir);

}  // namespace replicant::hashes
