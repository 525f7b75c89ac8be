// NativeBackend: sync_method = native, the REPCONN protocol with fan-out.
//
// SyncPeers() walks the union of the peers' differing suffixes once: each hash dir is
// cleaned up by Swift's rules, and the files Swift keeps (.data or .ts, and the .meta
// files) are offered to every peer that needs that suffix. The first batch (with the
// bodies of small files) is read before any session opens. Each peer's exchange of a
// batch runs on a thread of its own. In a single-batch partition each peer's session
// takes its device in the backend's PeerGate (so concurrent jobs never meet on a
// receiver's device lock) and ends, releasing it, as soon as that peer is done; a
// partition of several batches takes all its devices at once and opens the sessions
// in one global order, since each stays open while the others finish a batch. With the batch
// extension the offers go out in batches (batch_files files or batch_bytes of bodies)
// and large .data files go as librsync deltas where the receiver holds an older
// version. Peers without extensions (Hummingbird) get the plain per-file flow.
//
// A file counts as held by a peer when it answered Exists or NewerExists, or
// acknowledged the upload (after its fsync). A peer that already has a newer file
// leaves our older one in place for our own hash cleanup; it is not a failure. After
// each batch, SyncJob::on_held hears how many peers hold each object's files (the
// replicator may drop a handoff's object then). A peer that answers REPCONN with 405/400
// is reported `unsupported` (and remembered, logged once) so the replicator can use
// ssync for it.
//
// A peer with PeerSync::check_objs (Swift's remote_check_objs) is only asked, file by
// file with Hummingbird's Check request, whether it holds those objects: it gets no
// body, and what it lacks is left out of its in_sync_objects without failing it.
//
// Thread-safe: SyncPeers keeps per-call state on its stack (each peer thread touches
// only its own peer's); what is known of the peers, the connections made ahead and the
// gate are locked.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "sync_backends/native/native_session.h"
#include "sync_backends/peer_gate.h"
#include "sync_backends/rate_limit.h"
#include "sync_backends/sync_backend.h"

namespace replicant::sync {
namespace native {
struct Peer;
}  // namespace native

struct NativeOptions {
  native::SessionOptions session;
  size_t batch_files = 256;
  uint64_t batch_bytes = 16u << 20;
  int64_t reclaim_age = 604800;
  std::string devices_dir;  // for quarantining unreadable objects
  // bytes_per_second: every body byte put on the wire, counted per peer (a file sent
  // to three peers costs three times its size); files_per_second: one per body sent
  // to a peer. Offers the peer already holds cost nothing. Cancelled: the peer fails.
  Throttle throttle;
  // Sessions open to one peer device at once, across jobs: the receivers'
  // replication_concurrency_per_device (a session beyond it waits for their lock).
  int sessions_per_device = 1;
};

class NativeBackend : public SyncBackend {
 public:
  explicit NativeBackend(NativeOptions options)
      : opts_(std::move(options)), gate_(opts_.sessions_per_device) {}
  const char* name() const override { return "native"; }
  bool NeedsRehashRequest() const override { return false; }
  bool ConfirmsObjects() const override { return true; }
  std::vector<SyncResult> SyncPeers(const SyncJob& job, const std::vector<PeerSync>& peers) override;

  // Whether a peer (ip:port) answered REPCONN with 405/400 before; the first time
  // is logged.
  bool KnownUnsupported(const std::string& peer);
  void MarkUnsupported(const std::string& peer, const std::string& why);
  // The extensions a peer (ip:port) accepted in our last REPCONN to it, if it accepted
  // it: its next session gets Begin (and, with batch, the first offer) pipelined.
  std::optional<native::Extensions> AcceptedBefore(const std::string& peer);
  void NoteRepconn(const std::string& peer, const native::Extensions* accepted);  // null: refused

 private:
  static SyncResult Finish(const SyncJob& job, native::Peer& p);
  // Takes (claim) or gives back the right to connect to a peer device ahead of its
  // turn; true if taken, or given back.
  bool ClaimPreconnect(const std::string& device, bool claim = true);
  static std::string PeerKey(const Device& node);    // ip:port
  static std::string DeviceKey(const Device& node);  // ip:port/device

  NativeOptions opts_;
  std::mutex mu_;
  std::set<std::string> unsupported_;
  std::map<std::string, native::Extensions> accepted_;
  std::set<std::string> preconnected_;  // peer devices with a connection made ahead
  PeerGate gate_;  // sessions_per_device per peer device at a time, across jobs
};

}  // namespace replicant::sync
