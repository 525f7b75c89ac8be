// Handoff cleanup: what a handoff partition may delete once its objects are safe on
// their primaries (Swift's delete_handoff_objs / delete_partition, made race-free).
//
// A handoff first lists the files of the suffixes it is about to sync (a snapshot,
// taken before any byte leaves). After the sync it removes only files of that
// snapshot — and, for a protocol sync that confirms objects (SSYNC, native), only
// those of a confirmed object whose timestamp is not newer than what the peers
// confirmed. A file written to the handoff during the sync (a newer PUT, POST or
// DELETE) is never in the snapshot, so it stays for the next pass. Directories go
// with rmdir only (never recursively), so a dir something was added to stays; the
// partition dir goes last, once no directory is left in it.
//
// Any listing error is returned, never taken for "empty": the caller keeps the data
// and counts a failure. Thread-safe for different partitions; the caller holds the
// partition's replication lock.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace replicant::diskfile {

// The files of one object (hash dir) at the time of the snapshot.
struct HandoffObject {
  std::string suffix;
  std::vector<std::string> files;
};
// hash -> its files.
using HandoffSnapshot = std::map<std::string, HandoffObject>;

// The partition's suffix dirs, sorted: every 3-character name that is a directory
// (update_deleted's listing). A missing partition has none; any other error is
// returned, never taken for "empty".
Result<std::vector<std::string>> ListHandoffSuffixes(const std::string& partition_dir);

// Lists every hash dir of `suffixes` in `partition_dir`. A suffix or hash dir that
// vanished (ENOENT) is skipped; a non-directory where a hash dir should be is left
// out (it is not an object and is never deleted); any other error is returned.
Result<HandoffSnapshot> ListHandoffObjects(const std::string& partition_dir,
                                           const std::vector<std::string>& suffixes);

// What peers confirmed (SyncResult::in_sync_objects): hash -> the newest timestamp
// (internal form) of the object's files they hold.
using ConfirmedObjects = std::map<std::string, std::string>;

struct HandoffCleanup {
  size_t removed = 0;                    // hash dirs removed
  std::vector<std::string> error_paths;  // paths that failed other than ENOENT/ENOTEMPTY
  std::vector<std::string> errors;       // one message per error path, for the caller's log
  bool partition_removed = false;
};

// Removes the snapshot's objects that are covered, each whole or not at all: an
// object goes only if every file its hash dir holds now is in the snapshot and, when
// `confirmed` is given (ssync, native), is a Swift file no newer than the timestamp the
// peers confirmed. With `confirmed` null (rsync: a zero exit means every listed file
// reached the peer) the snapshot alone decides. An object that gained a file, or holds
// one the peers lack, keeps all its files: deleting its .data under a newer .meta would
// leave a .meta no protocol can send. Then empty suffix and partition dirs go.
HandoffCleanup RemoveHandoffFiles(const std::string& partition_dir,
                                  const HandoffSnapshot& snapshot,
                                  const ConfirmedObjects* confirmed);

// Removes one hash dir's files if every one of them is `covered` (whole or nothing),
// then the dir. Dot files (temp files, never read by Swift) need not be covered. Returns whether the object is gone; an unexpected error goes to `out`.
bool RemoveObjectIfCovered(const std::string& hash_dir,
                           const std::function<bool(const std::string&)>& covered,
                           HandoffCleanup* out);

// Removes one object a sync has just put on its peers, while the sync goes on (a
// fan-out backend's batch): its hash dir goes only if every file in it now is in
// `held` (whole or nothing, as RemoveObjectIfCovered), then its suffix dir if empty.
// The suffix's hash is invalidated either way it went. Returns whether it went.
bool RemoveHeldObject(const std::string& partition_dir, const std::string& suffix,
                      const std::string& hash, const std::set<std::string>& held,
                      HandoffCleanup* out);

// Removes the partition dir if no directory is left in it (empty suffix dirs are
// removed first; plain files such as hashes.pkl and locks go with it). Returns
// whether it was removed; a listing error is reported in `out`.
bool RemovePartitionIfEmpty(const std::string& partition_dir, HandoffCleanup* out);

}  // namespace replicant::diskfile
