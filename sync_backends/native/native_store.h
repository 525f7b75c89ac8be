// The receiving side's view of the disk for the native protocol: which object file a
// SyncFileRequest's Path names, and whether the receiver wants it.
//
// A Path is relative to the devices dir and must name a file inside the session's own
// device, policy and partition: "<device>/objects[-N]/<part>/<suffix>/<hash>/<file>"
// with a 32 lower-case hex hash ending in its suffix and a file name that is exactly
// Swift's canonical name of a .data, .ts or .meta. Anything else (absolute paths, "..",
// other partitions, other extensions) is refused, so no Path can reach outside.
//
// Whether a file is wanted follows Swift's rules for the hash dir (get_ondisk_files),
// not a comparison of names: an offered .data older than the receiver's .meta is still
// wanted when it is newer than the receiver's .data.
// Pure functions except ListHashDir (reads a directory); all thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "diskfile/layout.h"
#include "diskfile/ondisk_files.h"

namespace replicant::sync::native {

struct ObjectFilePath {
  std::string suffix, hash, filename;
  std::string hash_dir;  // absolute
  diskfile::OnDiskFile file;
};

Result<ObjectFilePath> ParseSyncPath(std::string_view path, const diskfile::PartitionLocation& target);

enum class Offer { kExists, kNewerExists, kGoAhead };

// `present`: the names in the hash dir (plus files already accepted earlier in the
// same batch). kNewerExists when Swift's rules would make the offered file obsolete.
Offer DecideOffer(const std::vector<std::string>& present, const std::string& offered);

// The names in a hash dir; empty when it does not exist.
Result<std::vector<std::string>> ListHashDir(const std::string& hash_dir);

// The .data Swift would serve from these names, if any (the delta base).
std::optional<std::string> CurrentDataFile(const std::vector<std::string>& names);

}  // namespace replicant::sync::native
