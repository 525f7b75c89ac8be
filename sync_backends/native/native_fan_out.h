// FanOut: one native sync of a partition to several peers at once (Hummingbird's
// design, made faster): the local partition is walked once, its object files are
// batched, and each batch is offered to every peer that wants its suffixes, each peer
// on its own thread and its own REPCONN session. Small bodies are preloaded during the
// walk; a peer that answers "send the signature" gets an rsync delta. As each batch
// completes, SyncJob::on_held hears which objects the peers hold.
//
// Internal to the native backend (NativeBackend::SyncPeers). A FanOut serves one
// SyncPeers call and is used by the thread that made it; it runs one thread per peer
// and batch, each touching only its own Peer.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "diskfile/ondisk_files.h"
#include "sync_backends/native/native_backend.h"
#include "sync_backends/native/native_session.h"
#include "sync_backends/native/native_wire.h"
#include "base/status.h"
#include "sync_backends/peer_gate.h"

namespace replicant::sync::native {

// One object file offered to the peers.
struct Item {
  std::string hash, suffix, filename;
  std::string path;      // absolute
  std::string rel;       // objects[-N]/<part>/<suffix>/<hash>/<file>
  std::string xattrs;    // hex
  int64_t size = 0;
  std::string ts;        // this file's timestamp (internal), for in_sync_objects
  std::optional<std::string> body;  // preloaded (small .data files)
};

// Per peer state across the batches of one SyncPeers() call.
struct Peer {
  const PeerSync* spec = nullptr;
  std::unique_ptr<NativeSession> session;
  std::set<std::string> suffixes;
  // Swift's remote_check_objs: only these objects are offered, by Hummingbird's Check
  // (existence only, never a body); null for a full sync.
  const std::set<std::string>* check = nullptr;
  std::set<std::string> failed_hashes, seen_hashes;
  std::map<std::string, std::string> object_ts;
  bool failed = false;
  // A suffix it wanted could not be read whole: whatever was sent, the sync failed.
  bool walk_failed = false;
  bool wanted = false;  // needs a session (opened with the first batch)
  bool opened = false;  // its session was tried (it may have failed to open)
  bool offer_sent = false;  // the first batch's offer went with the session's opening
  std::optional<PeerGate::Hold> device;  // from opening to Done
  SyncResult result;
  uint64_t deltas = 0, already = 0;
  std::string read_buf;  // for bodies that were not preloaded
  Status error;  // the first thing that went wrong with this peer, for its result
  void Note(const Status& st) {
    if (error.ok()) error = st;
  }
  bool alive() const { return session && !failed; }
};

struct Answer;

class FanOut {
 public:
  // Sessions open when the first batch is ready, so the local walk for it happens
  // before any receiver waits on us. `open_one` takes one peer's device and opens its
  // session (from that peer's thread), given the batch's offer to that peer (null when
  // it gets none) to send ahead if it may; `open_all` takes every wanted peer's device
  // at once and opens their sessions in one global order.
  using OpenOne = std::function<void(Peer&, const native::BatchRequest* offer)>;
  FanOut(const NativeOptions& o, const SyncJob& job, std::vector<Peer>& peers,
         OpenOne open_one, std::function<void()> open_all)
      : o_(o), job_(job), peers_(peers), open_one_(std::move(open_one)),
        open_all_(std::move(open_all)) {}

  void Walk();

 private:
  // One object of the walk (diskfile::ForEachObject): its kept files go in the batch.
  void AddObject(const std::string& suffix, const std::string& hash,
                 const diskfile::OnDiskFiles& files);
  // Each peer's exchange of a batch runs on its own thread: a receiver that is done
  // is not held up by a slower one. On the last batch a peer's session ends (Done)
  // and its device is released as soon as its own exchange is over.
  void RunBatch(bool last);
  void PeerBatch(Peer& p, const std::vector<Item>& items, std::vector<bool>& held, bool last);
  // PeerBatch's steps: the check and plain flows (one exchange per file), and the batch
  // flow's offer, bodies and upload results.
  void OneByOne(Peer& p, const std::vector<Item>& items, std::vector<bool>& held,
                void (FanOut::*exchange)(Peer&, const Item&, bool*));
  // The batch's offers to `p`: the items it covers (alive, the items it wants).
  native::BatchRequest OfferFor(const Peer& p, const std::vector<Item>& items) const;
  Status OfferBatch(Peer& p, const native::BatchRequest& offer, std::vector<Answer>* answers);
  size_t SendBodies(Peer& p, const std::vector<Item>& items, std::vector<Answer>& ans,
                    std::vector<bool>& held);
  void ReadUploadResults(Peer& p, const std::vector<Item>& items, const std::vector<Answer>& ans,
                         size_t uploads, std::vector<bool>& held);
  // A local read error that is not corruption (EIO, EMFILE, ENOMEM): the objects stay
  // here, and every peer that wanted the suffix has not been synced.
  void FailSuffix(const std::string& suffix, const std::string& why);

  void Fail(Peer& p, const Status& st);

  native::SyncFileRequest Request(const Peer& p, const Item& it) const {
    native::SyncFileRequest r;
    r.path = p.spec->node.device + "/" + it.rel;
    r.xattrs = it.xattrs;
    r.size = it.size;
    return r;
  }
  // Whether `it` is offered to `p` at all (and, while p's session is up, Wants it).
  static bool Covers(const Peer& p, const Item& it) {
    return p.suffixes.count(it.suffix) && (!p.check || p.check->count(it.hash));
  }
  bool Wants(const Peer& p, const Item& it) const { return p.alive() && Covers(p, it); }
  void PlainExchange(Peer& p, const Item& it, bool* held);
  void CheckExchange(Peer& p, const Item& it, bool* held);
  // Sends one SyncFileRequest and reads its answer; false (the peer failed) on error.
  bool Ask(Peer& p, const native::SyncFileRequest& req, native::SyncFileResponse* r);
  void SendBody(Peer& p, Answer& a, const Item& it);
  void ReportHeld(const std::vector<Item>& items,
                  const std::map<Peer*, std::vector<bool>>& held);

  const NativeOptions& o_;
  const SyncJob& job_;
  std::vector<Peer>& peers_;
  OpenOne open_one_;
  std::function<void()> open_all_;
  bool opened_ = false;
  std::vector<Item> batch_;
  uint64_t batch_bytes_ = 0;
  uint64_t batch_preloaded_ = 0;
};

}  // namespace replicant::sync::native
