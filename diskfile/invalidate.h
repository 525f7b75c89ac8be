// Suffix invalidation: Swift's invalidate_hash, the object store's half of
// hashes.invalid.
//
// Every change to a suffix dir (a new object file, a cleanup that empties it, a
// quarantine) appends the suffix's name to <partition>/hashes.invalid, under the
// partition lock (<partition>/.lock), so that the next get_hashes rehashes it. Reading
// and consolidating that file into hashes.pkl is the hashes/ module's (hashes_file.h).
// Thread-safe and process-safe through the partition lock.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace replicant::diskfile {

// The file name, in the partition dir.
inline constexpr const char* kInvalidationsFile = "hashes.invalid";

// Swift's invalidate_hash: appends "<suffix>\n" to <partition>/hashes.invalid under
// the partition lock. suffix_dir is <partition>/<suffix>. InvalidArgument when the
// suffix name is not UTF-8 (Swift raises UnicodeEncodeError).
Status InvalidateHash(const std::string& suffix_dir);
// The same for several suffixes of one partition: one lock, one append of all the
// lines (what a run of invalidate_hash calls leaves in hashes.invalid).
Status InvalidateHashes(const std::string& partition_dir, const std::vector<std::string>& suffixes);

}  // namespace replicant::diskfile
