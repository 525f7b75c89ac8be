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

#include "formats/pickle.h"
#include "base/status.h"

namespace replicant::hashes {

// suffix -> md5 hex (Swift's dict minus 'valid'/'updated').
using SuffixHashes = std::map<std::string, std::string>;

struct GetHashesOptions {
  std::vector<std::string> recalculate;  // suffixes to rehash regardless of the pickle
  bool do_listdir = false;               // also pick up every suffix dir on disk
  int64_t reclaim_age = 604800;          // seconds (Swift's default, one week)
  // With do_listdir: also put every 3-character name found into `recalculate`, as a
  // caller that listed the partition itself would (`replicant hashes`).
  bool recalculate_listed = false;
  double lock_timeout = 10;  // seconds per flock wait (Swift's lock_path default)
  // Which forms of the answer to build: a replicator compares `hashes`, a REPLICATE
  // answer pickles `dict`. Each costs a few allocations per suffix (up to 4,096 per
  // partition), so a caller asks only for what it reads; the other stays empty.
  bool want_hashes = true;
  bool want_dict = true;
};

struct GetHashesResult {
  SuffixHashes hashes;  // the entries of `dict` whose value is a str (md5 hex)
  // Swift's returned dict exactly, in its order: suffix -> md5 hex, or None for a
  // suffix that could not be hashed, or a stale truthy value kept from hashes.pkl.
  // This is what a REPLICATE response pickles.
  pickle::Value dict;
  int hashed = 0;  // suffixes rehashed by this call (Swift's hashed count)
  std::vector<Status> errors;  // suffixes that failed to hash (Swift logs these)
};

// Swift's get_hashes for a replication policy: consolidates hashes.invalid into
// hashes.pkl, rehashes what is invalid (cleaning up obsolete files on the way) and
// writes hashes.pkl back. Like Swift's DiskFileManager.get_hashes, a partition dir
// that does not exist yields an empty result and is not created. `recalculate` is
// taken as given (Swift's get_hashes filters it to valid suffixes; its _get_hashes
// does not). Errors: a lock timeout (Unavailable), failing to list the partition or
// to write hashes.pkl. Deliberate differences from Swift: keys that are not a plain
// name ('', '.', '..', anything with '/') are never hashed, so a stray line in
// hashes.invalid cannot make us walk or quarantine outside the suffix dirs (the
// resulting dict and hashes.pkl are still Swift's); a hashes.pkl holding NaN does
// not loop forever; after 16 passes that all lose the race with another writer we
// give up with Unavailable instead of recursing.
Result<GetHashesResult> GetHashes(const std::string& partition_dir, const GetHashesOptions& opts);

}  // namespace replicant::hashes
