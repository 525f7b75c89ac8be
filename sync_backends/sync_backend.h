// SyncBackend: how a replicator pushes a partition's differing suffixes to its peers.
//
// The replicator decides *what* to sync (which suffixes, to which nodes, and what may
// be deleted afterwards); a backend decides *how* the bytes travel (rsync, ssync,
// native) and reports, per peer, what happened as a value: it logs events of its own
// (quarantines, transfers) but never a peer's failure, which the result's Status
// carries to the replicator's one log line for that peer. Every backend has one entry
// point, SyncPeers(): a backend that walks the partition once for all peers (native)
// implements it directly; one that works peer by peer (rsync, ssync) is a
// PeerByPeerBackend. A backend is made from the replicator's configuration when the
// replicator starts (and again on a reload) and is called concurrently from the
// replicator's worker threads for different jobs, so implementations must be
// thread-safe. Backends know nothing of each other.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "ring/ring.h"

namespace replicant::sync {

// An object every peer of one SyncPeers() call may have confirmed while the sync is
// still running (backends that confirm batch by batch: native): `holders` of the
// peers hold exactly `files` of it (its hash dir's file names).
struct HeldObject {
  std::string suffix, hash;
  std::set<std::string> files;
  int holders = 0;
};

// The partition job a sync belongs to (Swift's replicator job dict, minus the nodes).
struct SyncJob {
  std::string device;        // local device name, e.g. "sdb1"
  std::string partition;     // partition number as the directory names it
  int policy_index = 0;
  std::string path;          // <devices>/<device>/objects[-N]/<partition>
  std::string obj_path;      // <devices>/<device>/objects[-N]
  int region = 1;            // region of the local device
  bool is_handoff = false;   // Swift's job['delete']
  // Called by a backend that learns during the sync which peers hold an object
  // (native, after each batch), from the thread that called SyncPeers(); the
  // replicator decides whether a handoff may drop it at once. Unset: not told.
  std::function<void(const HeldObject&)> on_held;
};

struct SyncResult {
  // OK when the peer holds what was sent (it confirmed it, or rsync exited 0);
  // otherwise why not, for the replicator's log. A result nobody filled in fails:
  // nothing is ever deleted on the word of a sync that did not report success.
  // NoSpace: the peer's device is full (a 507, as for an unmounted device): for a
  // primary the replicator tries one more node, as Swift's update() does for a 507.
  Status status = Status::Unavailable("not synced");
  bool ok() const { return status.ok(); }
  // Objects the peer confirmed it holds in sync, for backends that can tell (ssync,
  // native): hash -> the newest timestamp (internal form) of the object's files it
  // holds. A handoff may delete exactly these files, never a newer one.
  std::map<std::string, std::string> in_sync_objects;
  // The peer does not speak this backend's protocol (a Swift object server answering
  // REPCONN with 405): the replicator syncs it with the fallback backend.
  bool unsupported = false;
  // A source file changed while it was sent, so the peer may hold an obsolete copy
  // beside the newer one (rsync): the replicator asks the peer for a full rehash, which
  // runs its cleanup, after the usual rehash request.
  bool peer_cleanup_needed = false;
  uint64_t files_sent = 0, bytes_sent = 0;
};

// One peer of a partition and the suffixes it needs.
struct PeerSync {
  Device node;
  std::vector<std::string> suffixes;
  // Swift's remote_check_objs (handoffs, a remote region's later primaries): only ask
  // which of these objects the peer holds in sync, send nothing. On success,
  // in_sync_objects lists those the peer reported in sync; the others are not a
  // failure, they are simply not confirmed. Only for backends that ConfirmsObjects().
  std::optional<std::set<std::string>> check_objs;
};

class SyncBackend {
 public:
  virtual ~SyncBackend() = default;
  virtual const char* name() const = 0;
  // Whether the replicator must send `REPLICATE /dev/part/s1-s2` after a sync so
  // that the peer rehashes the suffixes (rsync: yes; protocols whose receiver
  // invalidates the suffixes itself: no).
  virtual bool NeedsRehashRequest() const = 0;
  // Whether SyncResult::in_sync_objects lists what a peer confirmed, so a handoff may
  // delete exactly those objects (ssync, native) rather than the whole partition.
  virtual bool ConfirmsObjects() const = 0;
  // Pushes the job's partition to every peer (or checks those with check_objs);
  // results in the order of `peers`.
  virtual std::vector<SyncResult> SyncPeers(const SyncJob& job,
                                            const std::vector<PeerSync>& peers) = 0;
};

// A backend that syncs one peer after another (a fan-out of one per peer).
class PeerByPeerBackend : public SyncBackend {
 public:
  std::vector<SyncResult> SyncPeers(const SyncJob& job,
                                    const std::vector<PeerSync>& peers) final {
    std::vector<SyncResult> out;
    out.reserve(peers.size());
    for (const auto& p : peers) out.push_back(SyncPeer(job, p));
    return out;
  }

 protected:
  virtual SyncResult SyncPeer(const SyncJob& job, const PeerSync& peer) = 0;
};

}  // namespace replicant::sync
