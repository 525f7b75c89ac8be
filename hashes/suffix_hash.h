// Suffix hashing: Swift's _hash_suffix_dir / _hash_suffix for a replication policy.
//
// One MD5 runs across every hash dir of a suffix in sorted name order; each hash dir
// is cleaned up first (obsolete and reclaimable files unlinked, an empty dir removed)
// and contributes the normalised timestamps of its chosen files. A non-directory in
// place of a hash dir is quarantined. An empty suffix dir is removed, and then, as for
// a missing one, the suffix has no hash at all. Thread-safe; callers do not hold the
// partition lock (quarantine takes it).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace replicant::hashes {

struct SuffixContext {
  std::string partition_dir;  // no trailing slash
  std::string device_path;    // dirname(dirname(partition_dir)), for quarantine
  int policy_index = 0;       // the partition's policy (objects-N)
  int64_t reclaim_age = 604800;
  double now = 0;             // seconds since the epoch, for reclaim
};

enum class SuffixOutcome {
  kHashed,      // md5 holds the hex digest
  kPathNotDir,  // missing, not a directory, or removed because empty: drop the key
  kError,       // could not be hashed (Swift logs "Error hashing suffix"); keep the key
};

struct SuffixHash {
  SuffixOutcome outcome = SuffixOutcome::kError;
  std::string md5;
  Status error;
};

// Hashes <partition>/<suffix_name> (raw name bytes, a single path component).
SuffixHash HashSuffix(const SuffixContext& ctx, const std::string& suffix_name);

}  // namespace replicant::hashes
