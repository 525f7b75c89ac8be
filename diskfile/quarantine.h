// Quarantine: Swift's quarantine_renamer, which moves a damaged object directory out
// of the way into <device>/quarantined/objects[-N]/ so replication can restore it.
//
// Used when a non-directory sits where a hash dir should be. The suffix is first
// invalidated (hashes.invalid, under the partition lock), then the entry is renamed.
// Thread-safe; concurrent quarantines of the same name resolve as rename(2) does.
#pragma once

#include <string>

#include "base/status.h"

namespace replicant::diskfile {

// The policy index a partition belongs to, from its parent directory's name
// ("objects" -> 0, "objects-3" -> 3; anything else -> 0).
int PolicyIndexOfPartition(const std::string& partition_dir);

// extract_policy + get_data_dir for a path: "objects" or "objects-N". Swift takes the
// last "objects" in the whole path; policy N counts as existing when it is 0 or
// `known_policy` (the partition's own), since no swift.conf is consulted here.
std::string QuarantineDataDir(const std::string& path, int known_policy);

// quarantine_renamer(device_path, corrupted_file_path): moves
// dirname(corrupted_file_path) to <device>/quarantined/<data dir>/<its name>, adding
// "-<uuid4 hex>" when that target is a non-empty directory. Returns the target path.
Result<std::string> QuarantineRenamer(const std::string& device_path,
                                      const std::string& corrupted_file_path, int known_policy);

// Swift's quarantine_renamer for a hash dir: moves it to
// <device_path>/quarantined/objects[-N]/<hash> (with -<uuid hex> when that exists)
// and invalidates its suffix. Returns the new path.
Result<std::string> QuarantineHashDir(const std::string& device_path,
                                      const std::string& hash_dir, int policy_index);

}  // namespace replicant::diskfile
