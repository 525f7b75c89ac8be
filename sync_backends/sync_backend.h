// SyncBackend: how a replicator pushes a partition's differing suffixes to one peer.
//
// The replicator decides *what* to sync (which suffixes, to which node); a backend
// decides *how* the bytes travel (rsync, ssync, native). A backend is made from the
// replicator's configuration when the replicator starts (and again on a reload) and
// is called concurrently from the replicator's worker threads for different jobs, so
// implementations must be thread-safe. Backends know nothing of each other.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ring/ring.h"

namespace replicant::sync {

// The partition job a sync belongs to (Swift's replicator job dict, minus the nodes).
struct SyncJob {
  std::string device;        // local device name, e.g. "sdb1"
  std::string partition;     // partition number as the directory names it
  int policy_index = 0;
  std::string path;          // <devices>/<device>/objects[-N]/<partition>
  std::string obj_path;      // <devices>/<device>/objects[-N]
  int region = 1;            // region of the local device
  bool is_handoff = false;   // Swift's job['delete']
  // For backends that confirm objects one by one (native), on handoff jobs: remove a
  // local object as soon as this many of the peers of one SyncPeers() call hold it.
  // 0: leave every deletion to the replicator.
  int delete_quorum = 0;
};

struct SyncResult {
  bool success = false;
  // Objects the peer confirmed it holds in sync, for backends that can tell (ssync,
  // native): hash -> the newest timestamp (internal form) of the object's files it
  // holds. A handoff may delete exactly these files, never a newer one.
  std::map<std::string, std::string> in_sync_objects;
  // The peer does not speak this backend's protocol (a Swift object server answering
  // REPCONN with 405): the replicator syncs it another way.
  bool unsupported = false;
  // The peer's device is full (a 507, as for an unmounted device): for a primary the
  // replicator tries one more node, as Swift's update() does for a 507.
  bool device_full = false;
  uint64_t files_sent = 0, bytes_sent = 0;
};

// One peer of a partition and the suffixes it needs.
struct PeerSync {
  Device node;
  std::vector<std::string> suffixes;
  // Swift's remote_check_objs (handoffs, a remote region's later primaries): only ask
  // which of these objects the peer holds in sync, send nothing (see Check()).
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
  // Pushes `suffixes` of job's partition to `node`.
  virtual SyncResult Sync(const Device& node, const SyncJob& job,
                          const std::vector<std::string>& suffixes) = 0;
  // Whether SyncPeers walks the partition once for all the peers (fan-out), so the
  // replicator should collect every peer's suffixes first and call it once.
  virtual bool FansOut() const { return false; }
  // Whether SyncResult::in_sync_objects lists what a peer confirmed, so a handoff may
  // delete exactly those objects (ssync, native) rather than the whole partition.
  virtual bool ConfirmsObjects() const { return false; }
  // Swift's ssync Sender with remote_check_objs: offers `node` only the objects of
  // `suffixes` that are in `objs` and sends no data. On success, in_sync_objects lists
  // those the peer reported in sync (it did not want them); the others are not a
  // failure, they are simply not confirmed. Only for backends that ConfirmsObjects();
  // the default fails (nothing confirmed, so nothing is ever deleted on its word).
  virtual SyncResult Check(const Device& node, const SyncJob& job,
                           const std::vector<std::string>& suffixes,
                           const std::set<std::string>& objs);
  // Pushes a partition to several peers (or checks those with check_objs); results in
  // the order of `peers`. The default handles them one after another.
  virtual std::vector<SyncResult> SyncPeers(const SyncJob& job, const std::vector<PeerSync>& peers) {
    std::vector<SyncResult> out;
    for (const auto& p : peers) {
      out.push_back(p.check_objs ? Check(p.node, job, p.suffixes, *p.check_objs)
                                 : Sync(p.node, job, p.suffixes));
    }
    return out;
  }
};

}  // namespace replicant::sync
