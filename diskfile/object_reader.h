// Object reader: Swift 2.30's DiskFile.open for replication policies.
//
// OpenObject reads the object of one hash dir as DiskFile.open does: picks the files
// by Swift's rules (ondisk_files.h), merges .data and .meta metadata, and checks what
// Swift checks before it would serve the object (where it would quarantine instead).
//
// Thread-safety: OpenObject is thread-safe. Concurrent writers and readers of one
// object behave as Swift's do: renames are atomic, and the reader holds an open fd to
// the data file it picked, immune to later unlinks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "diskfile/fd.h"
#include "diskfile/object_metadata.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/timestamp.h"

namespace replicant::diskfile {

struct OpenedObject {
  std::string hash_dir;
  OnDiskFiles files;  // Swift's choice of data/ts/meta/ctype files
  // True when the newest state is a .ts: metadata is then the tombstone's, and
  // there is no data file (Swift's DiskFileDeleted).
  bool tombstone = false;
  // X-Timestamp of the merged metadata (the .meta's when there is one, as
  // DiskFile.timestamp), and of the .data or .ts file.
  Timestamp timestamp;
  Timestamp data_timestamp;
  Metadata metadata;           // DiskFile.get_metadata()
  Metadata datafile_metadata;  // get_datafile_metadata()
  std::optional<Metadata> metafile_metadata;  // without "name", as Swift keeps it
  std::string data_file;       // full path; empty for a tombstone
  UniqueFd data_fd;            // open read-only on data_file: immune to later unlinks
  uint64_t content_length = 0;
  std::optional<int64_t> delete_at;  // X-Delete-At; expiry is the caller's decision
};

// Swift's DiskFile.open on a hash dir. NotFound when there is neither data nor a
// tombstone. Corruption where Swift would quarantine: bad or missing metadata,
// missing or bad Content-Length, Content-Length != file size, bad X-Delete-At. The
// check that "name" hashes back to the dir needs the hash path salt and is left to
// callers that have it. A corrupt tombstone is Corruption too (Swift quarantines it
// and then reports NotFound).
Result<OpenedObject> OpenObject(const std::string& hash_dir);

}  // namespace replicant::diskfile
