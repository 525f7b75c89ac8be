// On-disk object files: Swift's naming and obsolescence rules for one hash dir.
//
// A hash dir (<dev>/objects[-N]/<part>/<suffix>/<hash>/) holds files named
// <timestamp>.data, <timestamp>.ts and <timestamp>[+/-ctype delta].meta. These
// functions decide, as Swift 2.30's DiskFileManager.get_ondisk_files and
// cleanup_ondisk_files do, which files describe the object now and which are obsolete
// or reclaimable. Pure functions except CleanupOnDiskFiles, which unlinks; all are
// thread-safe (callers serialize work on one hash dir themselves).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "diskfile/timestamp.h"

namespace replicant::diskfile {

enum class FileKind { kData, kTombstone, kMeta, kOther };

struct OnDiskFile {
  std::string name;                      // raw file name, as on disk
  FileKind kind = FileKind::kOther;
  std::string ext;  // as os.path.splitext gives it: ".data", ".ts", ".meta", ".foo" or ""
  Timestamp timestamp;
  std::optional<Timestamp> ctype_timestamp;  // .meta only: content-type timestamp
};

// Parses a file name as Swift's parse_on_disk_filename would; an error means Swift
// would call the file "unexpected" (never hashed, never deleted).
Result<OnDiskFile> ParseOnDiskFilename(std::string_view name);

// What get_ondisk_files returns for a replication policy.
struct OnDiskFiles {
  std::optional<OnDiskFile> data_info;
  std::optional<OnDiskFile> ts_info;
  std::optional<OnDiskFile> meta_info;
  std::optional<OnDiskFile> ctype_info;
  std::vector<OnDiskFile> obsolete;
  std::vector<OnDiskFile> possible_reclaim;  // orphan .meta files when there is no .data
  std::vector<std::string> unexpected;
};

// Names are processed in the order given (Swift's cleanup passes them sorted in
// reverse); ties between equal timestamps keep that order.
OnDiskFiles GetOnDiskFiles(std::vector<std::string> names);

struct CleanupResult {
  OnDiskFiles files;                 // after reclaim
  std::vector<std::string> remaining;  // names still in the dir, sorted in reverse
  bool dir_removed = false;
};

// Swift's cleanup_ondisk_files: lists hash_dir, unlinks obsolete and reclaimable
// files (reclaim_age seconds, measured against now_seconds), removes the dir when
// empty. NotFound when hash_dir does not exist; a non-directory is reported as
// InvalidArgument (the caller quarantines it).
Result<CleanupResult> CleanupOnDiskFiles(const std::string& hash_dir, int64_t reclaim_age,
                                         double now_seconds);

// The same for the entry `name` of the open directory dir_fd (AT_FDCWD for a path),
// for the suffix-hashing loop. Returns 0, or the errno of listing the hash dir
// (ENOTDIR: not a directory; ENOENT: gone, out is then empty as in Swift).
int CleanupHashDirAt(int dir_fd, const std::string& name, int64_t reclaim_age,
                     double now_seconds, CleanupResult* out);

// Swift's make_on_disk_filename: "<ts.internal>.<ext>", and for .meta with a
// content-type timestamp "<ts.internal><+/-hex raw delta>.meta".
std::string OnDiskFilename(const Timestamp& ts, std::string_view ext,
                           const std::optional<Timestamp>& ctype_ts = std::nullopt);

}  // namespace replicant::diskfile
