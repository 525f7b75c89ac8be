#include "sync_backends/native/native_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "diskfile/fd.h"
#include "diskfile/quarantine.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/timestamp.h"
#include "diskfile/fs_util.h"
#include "diskfile/handoff_cleanup.h"
#include "hashes/partition_hashes.h"
#include "sync_backends/native/native_delta.h"
#include "diskfile/invalidate.h"
#include "diskfile/object_metadata.h"
#include "diskfile/layout.h"

namespace replicant::sync {
namespace {

using native::NativeSession;
constexpr size_t kReadChunk = 256 << 10;
constexpr int64_t kThrottledChunk = 64 << 10;  // as ssync's disk_chunk_size
constexpr int64_t kMaxSignature = 64 << 20;
// Small .data bodies are read during the walk, with their metadata, before any
// session is open: the receivers then never wait on our disk reads. Bounded per batch.
constexpr int64_t kPreloadMax = 64 << 10;
constexpr uint64_t kPreloadBudget = 4 << 20;

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
  std::optional<PeerGate::Hold> device;  // from opening to Done
  SyncResult result;
  uint64_t deltas = 0, already = 0;
  std::string read_buf;  // for bodies that were not preloaded
  bool alive() const { return session && !failed; }
};

// The whole body of `it` to `p`'s session: preloaded, or read now from `fd`. Each
// piece first takes its bytes from the throttle: bytes on the wire, per peer.
Status WriteWholeBody(Peer& p, const Item& it, int fd, const Throttle& throttle) {
  net::ByteStream& out = p.session->stream();
  if (it.body) {
    if (Status st = throttle.Bytes(it.body->size()); !st.ok()) return st;
    return out.Write(*it.body);
  }
  if (p.read_buf.empty()) p.read_buf.resize(kReadChunk);
  // Throttled, smaller pieces: each write waits behind every other sync's reservation,
  // and the receiver gives up on a session silent for client_timeout.
  const int64_t piece = throttle.bytes ? kThrottledChunk : static_cast<int64_t>(kReadChunk);
  for (int64_t off = 0; off < it.size;) {
    ssize_t n = pread(fd, p.read_buf.data(), std::min<int64_t>(piece, it.size - off), off);
    // Mid-body: only closing the session keeps the peer in step.
    if (n <= 0) return Status::IOError("short read of " + it.path);
    if (Status st = throttle.Bytes(static_cast<uint64_t>(n)); !st.ok()) return st;
    if (Status st = out.Write(std::string_view(p.read_buf.data(), n)); !st.ok()) return st;
    off += n;
  }
  return Status::OK();
}

// What one peer said about one item of a batch.
struct Answer {
  native::SyncFileResponse offer;
  std::string signature;
  bool sent = false;  // a body went out for it
};

class FanOut {
 public:
  // Sessions open when the first batch is ready, so the local walk for it happens
  // before any receiver waits on us. `open_one` takes one peer's device and opens its
  // session (from that peer's thread); `open_all` takes every wanted peer's device at
  // once and opens their sessions in one global order.
  FanOut(const NativeOptions& o, const SyncJob& job, std::vector<Peer>& peers,
         std::function<void(Peer&)> open_one, std::function<void()> open_all)
      : o_(o), job_(job), peers_(peers), open_one_(std::move(open_one)),
        open_all_(std::move(open_all)) {}

  void Walk();

 private:
  void AddObject(const std::string& suffix, const std::string& hash);
  // Each peer's exchange of a batch runs on its own thread: a receiver that is done
  // is not held up by a slower one. On the last batch a peer's session ends (Done)
  // and its device is released as soon as its own exchange is over.
  void RunBatch(bool last);
  void PeerBatch(Peer& p, const std::vector<Item>& items, std::vector<bool>& held, bool last);
  // A local read error that is not corruption (EIO, EMFILE, ENOMEM): the objects stay
  // here, and every peer that wanted the suffix has not been synced.
  void FailSuffix(const std::string& suffix, const std::string& why) {
    spdlog::error("native sync of {}/{}: {}; keeping the files", job_.device, job_.partition, why);
    for (auto& p : peers_) {
      if (p.suffixes.count(suffix)) p.walk_failed = true;
    }
  }
  void Fail(Peer& p, const Status& st) {
    if (p.failed) return;
    spdlog::error("native sync of {}/{} to {}: {}", job_.device, job_.partition,
                  p.session->name(), st.message());
    p.failed = true;
  }
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
  void DeleteConfirmed(const std::vector<Item>& items,
                       const std::map<Peer*, std::vector<bool>>& held);

  const NativeOptions& o_;
  const SyncJob& job_;
  std::vector<Peer>& peers_;
  std::function<void(Peer&)> open_one_;
  std::function<void()> open_all_;
  bool opened_ = false;
  std::vector<Item> batch_;
  uint64_t batch_bytes_ = 0;
  uint64_t batch_preloaded_ = 0;
};

void FanOut::Walk() {
  std::set<std::string> all;
  for (const auto& p : peers_) {
    if (p.wanted) all.insert(p.suffixes.begin(), p.suffixes.end());
  }
  for (const auto& suffix : all) {
    std::vector<std::string> hashes;
    int err = diskfile::fs::ListDir(job_.path + "/" + suffix, &hashes);
    if (err != 0 && err != ENOENT && err != ENOTDIR) {
      FailSuffix(suffix, fmt::format("listdir {}/{}: {}", job_.path, suffix, std::strerror(err)));
      continue;
    }
    std::sort(hashes.begin(), hashes.end());
    for (const auto& h : hashes) AddObject(suffix, h);
  }
  // The last batch, possibly empty: the sessions still say whether the peers are up.
  RunBatch(true);
}

void FanOut::AddObject(const std::string& suffix, const std::string& hash) {
  std::string dir = job_.path + "/" + suffix + "/" + hash;
  auto cleaned = diskfile::CleanupOnDiskFiles(dir, o_.reclaim_age, Timestamp::Now().seconds());
  if (!cleaned.ok()) {
    // Gone, or a file where the hash dir should be (not an object; the suffix's rehash
    // quarantines it): nothing to send. Anything else is a read error.
    const Status& st = cleaned.status();
    if (!st.IsNotFound() && st.code() != Status::Code::kInvalidArgument) {
      FailSuffix(suffix, st.message());
    }
    return;
  }
  const diskfile::OnDiskFiles& f = cleaned->files;
  std::vector<const diskfile::OnDiskFile*> keep;
  if (f.data_info) keep.push_back(&*f.data_info);
  if (f.ts_info) keep.push_back(&*f.ts_info);
  if (f.meta_info) keep.push_back(&*f.meta_info);
  if (f.ctype_info && (!f.meta_info || f.ctype_info->name != f.meta_info->name)) {
    keep.push_back(&*f.ctype_info);
  }
  if (keep.empty() || (!f.data_info && !f.ts_info)) return;  // nothing Swift would serve
  std::vector<Item> items;
  for (const auto* file : keep) {
    Item it;
    it.hash = hash;
    it.suffix = suffix;
    it.filename = file->name;
    it.path = dir + "/" + file->name;
    it.rel = diskfile::SuffixDirIn(diskfile::PartitionRelPath(job_.policy_index, job_.partition),
                                   suffix) + "/" + hash + "/" + file->name;
    it.ts = file->timestamp.internal();
    diskfile::UniqueFd fd(open(it.path.c_str(), O_RDONLY | O_CLOEXEC));
    auto raw = fd.get() >= 0 ? diskfile::ReadRawMetadata(fd.get())
                             : Result<std::string>(Status::FromErrno("open " + it.path, errno));
    struct stat st;
    if (!raw.ok() || fstat(fd.get(), &st) != 0) {
      if (raw.ok() || raw.status().IsNotFound()) return;  // replaced meanwhile: next pass
      // Only corruption (no or bad metadata) is quarantined, as Swift does; a transient
      // error (EIO, EMFILE, ENOMEM) keeps the object and fails the sync.
      if (!raw.status().IsCorruption()) return FailSuffix(suffix, raw.status().message());
      spdlog::error("{} failed audit and is being quarantined: {}", dir, raw.status().message());
      auto q = diskfile::QuarantineHashDir(diskfile::DevicePathOfDataDir(job_.obj_path), dir,
                                           job_.policy_index);
      if (!q.ok()) spdlog::error("quarantine {}: {}", dir, q.status().message());
      return;
    }
    it.xattrs = native::HexEncode(*raw);
    it.size = file->kind == diskfile::FileKind::kData ? st.st_size : 0;
    if (it.size > 0 && it.size <= kPreloadMax && batch_preloaded_ + it.size <= kPreloadBudget) {
      std::string body(static_cast<size_t>(it.size), '\0');
      if (pread(fd.get(), body.data(), body.size(), 0) == it.size) {
        batch_preloaded_ += static_cast<uint64_t>(it.size);
        it.body = std::move(body);
      }  // else SendBody reads it again and reports what went wrong
    }
    items.push_back(std::move(it));
  }
  for (auto& it : items) {
    batch_bytes_ += static_cast<uint64_t>(it.size);
    batch_.push_back(std::move(it));
  }
  if (batch_.size() >= o_.batch_files || batch_bytes_ >= o_.batch_bytes) RunBatch(false);
}

bool FanOut::Ask(Peer& p, const native::SyncFileRequest& req, native::SyncFileResponse* r) {
  NativeSession& s = *p.session;
  Status st = s.Send(native::ToJson(req));
  if (st.ok()) st = s.Flush();
  auto j = st.ok() ? s.Receive() : Result<nlohmann::json>(st);
  if (j.ok()) st = native::FromJson(*j, r);
  if (!j.ok() || !st.ok()) {
    Fail(p, j.ok() ? st : j.status());
    return false;
  }
  return true;
}

// Hummingbird's flow for a peer without the batch extension.
void FanOut::PlainExchange(Peer& p, const Item& it, bool* held) {
  NativeSession& s = *p.session;
  native::SyncFileResponse r;
  if (!Ask(p, Request(p, it), &r)) return;
  if (r.exists || r.newer_exists) {
    p.already++;
    *held = true;
    return;
  }
  if (!r.go_ahead) return;
  Status st;
  diskfile::UniqueFd fd;
  if (!it.body) fd = diskfile::UniqueFd(open(it.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!it.body && fd.get() < 0) return Fail(p, Status::FromErrno("open " + it.path, errno));
  if (st = o_.throttle.Files(1); !st.ok()) return Fail(p, st);
  if (st = WriteWholeBody(p, it, fd.get(), o_.throttle); !st.ok()) return Fail(p, st);
  if (st = s.Flush(); !st.ok()) return Fail(p, st);
  auto up = s.Receive();
  native::FileUploadResponse u;
  if (up.ok()) st = native::FromJson(*up, &u);
  if (!up.ok() || !st.ok()) return Fail(p, up.ok() ? st : up.status());
  s.CountSent(static_cast<uint64_t>(it.size));
  if (u.success) {
    p.result.files_sent++;
    *held = true;
  }
}

// A check-only peer: does it hold this file (or a newer one)? Nothing else is sent.
void FanOut::CheckExchange(Peer& p, const Item& it, bool* held) {
  native::SyncFileRequest req = Request(p, it);
  req.check = true;
  native::SyncFileResponse r;
  if (!Ask(p, req, &r)) return;
  if (r.exists || r.newer_exists) {
    p.already++;
    *held = true;
  }
}

// One item's body to one peer that asked for it: a delta when the peer sent a usable
// signature, else the whole body (preloaded, or read now).
void FanOut::SendBody(Peer& p, Answer& a, const Item& it) {
  diskfile::UniqueFd fd;
  if (!it.body) fd = diskfile::UniqueFd(open(it.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!it.body && fd.get() < 0) {
    native::BodyHeader skip;
    skip.skip = true;
    if (Status st = p.session->Send(native::ToJson(skip)); !st.ok()) Fail(p, st);
    return;
  }
  std::unique_ptr<native::DeltaEncoder> enc;
  // A preloaded body is small: whole costs no more than a delta (and is valid after one
  // was offered).
  if (a.offer.delta && !a.signature.empty() && !it.body) {
    auto e = native::DeltaEncoder::Create(a.signature);
    if (e.ok()) enc = std::move(*e);
    else spdlog::warn("{}: unusable signature for {}: {}", p.session->name(), it.filename,
                      e.status().message());
  }
  net::ByteStream& out = p.session->stream();
  native::BodyHeader h;
  h.delta = enc != nullptr;
  h.size = enc ? 0 : it.size;
  // One file token per body sent to a peer (a delta too).
  Status st = o_.throttle.Files(1);
  if (st.ok()) st = p.session->Send(native::ToJson(h));
  uint64_t wire = 0;
  if (st.ok() && enc) {
    st = enc->Encode(fd.get(), static_cast<uint64_t>(it.size), [&](std::string_view piece) {
      wire += piece.size();
      if (Status t = o_.throttle.Bytes(piece.size()); !t.ok()) return t;
      return native::WriteChunk(out, piece);
    });
    if (st.ok()) st = native::WriteChunk(out, "");
  } else if (st.ok()) {
    st = WriteWholeBody(p, it, fd.get(), o_.throttle);
    wire = static_cast<uint64_t>(it.size);
  }
  if (!st.ok()) {
    Fail(p, st);
    return;
  }
  a.sent = true;
  if (enc) p.deltas++;
  p.session->CountSent(wire);
}

void FanOut::RunBatch(bool last) {
  std::vector<Item> items = std::move(batch_);
  batch_.clear();
  batch_bytes_ = 0;
  batch_preloaded_ = 0;
  if (items.empty() && !last) return;
  if (!opened_ && !last) {
    // More than one batch: a peer's session stays open across the batches while the
    // others finish theirs. Taking every device first, in one order, keeps two jobs
    // (here or on other nodes) from each holding a device the other waits for.
    open_all_();
  }
  opened_ = true;
  std::vector<Peer*> working;
  for (auto& p : peers_) {
    if (p.wanted && !p.failed) working.push_back(&p);
  }
  std::map<Peer*, std::vector<bool>> held;
  for (Peer* p : working) held[p].assign(items.size(), false);
  if (working.size() == 1) {
    PeerBatch(*working[0], items, held[working[0]], last);
  } else {
    std::vector<std::thread> threads;
    for (Peer* p : working) {
      std::vector<bool>& h = held[p];  // looked up here: threads only use their own
      threads.emplace_back([&, p] { PeerBatch(*p, items, h, last); });
    }
    for (auto& t : threads) t.join();
  }
  if (last) {
    for (auto& p : peers_) p.device.reset();  // those that failed in an earlier batch
  }
  for (Peer* p : working) {
    if (!p->session) continue;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!Covers(*p, items[i])) continue;
      p->seen_hashes.insert(items[i].hash);
      std::string& newest = p->object_ts[items[i].hash];
      newest = std::max(newest, items[i].ts);
      if (!held[p][i] || p->failed) p->failed_hashes.insert(items[i].hash);
    }
  }
  DeleteConfirmed(items, held);
}

void FanOut::PeerBatch(Peer& p, const std::vector<Item>& items, std::vector<bool>& held,
                       bool last) {
  if (!p.session && !p.opened) open_one_(p);
  if (p.alive() && p.check) {
    // Check requests do not go in a batch: one round trip per file, no bodies.
    for (size_t i = 0; i < items.size(); ++i) {
      if (!Wants(p, items[i])) continue;
      bool h = false;
      CheckExchange(p, items[i], &h);
      held[i] = h;
    }
  } else if (p.alive() && !p.session->extensions().batch) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (!Wants(p, items[i])) continue;
      bool h = false;
      PlainExchange(p, items[i], &h);
      held[i] = h;
    }
  } else if (p.alive()) {
    native::BatchRequest br;
    for (const auto& it : items) {
      if (Wants(p, it)) br.files.push_back(Request(p, it));
    }
    std::vector<Answer> ans(br.files.size());
    Status st = Status::OK();
    if (!br.files.empty()) {
      st = p.session->Send(native::ToJson(br));
      if (st.ok()) st = p.session->Flush();
      // The offers' answers, and the signatures that follow them.
      auto j = st.ok() ? p.session->Receive() : Result<nlohmann::json>(st);
      native::BatchResponse resp;
      st = j.ok() ? native::FromJson(*j, &resp, ans.size()) : j.status();
      if (st.ok() && resp.files.size() != ans.size()) {
        st = Status::InvalidArgument(
            fmt::format("{} answers to {} offers", resp.files.size(), ans.size()));
      }
      for (size_t k = 0; st.ok() && k < ans.size(); ++k) {
        ans[k].offer = resp.files[k];
        if (!ans[k].offer.delta) continue;
        if (ans[k].offer.signature_size > kMaxSignature || !ans[k].offer.go_ahead) {
          st = Status::InvalidArgument("bad signature announcement");
          break;
        }
        ans[k].signature.resize(static_cast<size_t>(ans[k].offer.signature_size));
        st = p.session->stream().ReadExact(ans[k].signature.data(), ans[k].signature.size(),
                                           "signature");
      }
      if (!st.ok()) Fail(p, st);
    }
    // Bodies in offer order, then the uploads' results: one per GoAhead, after the
    // receiver made them durable.
    size_t k = 0, go = 0;
    for (size_t i = 0; p.alive() && i < items.size(); ++i) {
      if (!Wants(p, items[i])) continue;
      Answer& a = ans[k++];
      if (a.offer.exists || a.offer.newer_exists) {
        held[i] = true;
        p.already++;
      } else if (a.offer.go_ahead) {
        SendBody(p, a, items[i]);
        go++;
      }
    }
    if (p.alive() && go > 0) {
      st = p.session->Flush();
      auto j = st.ok() ? p.session->Receive() : Result<nlohmann::json>(st);
      native::BatchUploadResponse up;
      st = j.ok() ? native::FromJson(*j, &up, go) : j.status();
      if (st.ok() && up.files.size() != go) st = Status::InvalidArgument("wrong number of upload results");
      if (!st.ok()) Fail(p, st);
      for (size_t i = 0, k2 = 0, g = 0; st.ok() && i < items.size(); ++i) {
        if (!Wants(p, items[i])) continue;
        const Answer& a2 = ans[k2++];
        if (!a2.offer.go_ahead) continue;
        const native::FileUploadResponse& r = up.files[g++];
        if (r.success) {
          held[i] = true;
          p.result.files_sent++;
        } else {
          spdlog::error("{}: {} not stored: {}", p.session->name(), items[i].rel, r.msg);
        }
      }
    }
  }
  if (last) {
    if (p.alive()) p.session->Finish();
    p.device.reset();  // the next job's session to this device may start
  }
}

// Handoffs: an object whose files `delete_quorum` peers hold goes at once.
void FanOut::DeleteConfirmed(const std::vector<Item>& items,
                             const std::map<Peer*, std::vector<bool>>& held) {
  if (!job_.is_handoff || job_.delete_quorum <= 0) return;
  std::map<std::string, std::pair<size_t, size_t>> span;  // hash -> [first, last]
  for (size_t i = 0; i < items.size(); ++i) {
    auto [it, fresh] = span.emplace(items[i].hash, std::make_pair(i, i));
    if (!fresh) it->second.second = i;
  }
  for (const auto& [hash, range] : span) {
    int holders = 0;
    for (const auto& [p, h] : held) {
      bool all = !p->failed;
      for (size_t i = range.first; all && i <= range.second; ++i) all = h[i];
      holders += all;
    }
    if (holders < job_.delete_quorum) continue;
    // Exactly the files the peers hold, whole or not at all: an object that gained a
    // file meanwhile (a newer PUT, POST or DELETE) stays for the next pass.
    std::set<std::string> held_files;
    for (size_t i = range.first; i <= range.second; ++i) held_files.insert(items[i].filename);
    std::string suffix_dir = job_.path + "/" + items[range.first].suffix;
    diskfile::HandoffCleanup cleanup;
    bool gone = diskfile::RemoveObjectIfCovered(
        suffix_dir + "/" + hash, [&](const std::string& f) { return held_files.count(f) > 0; },
        &cleanup);
    for (const auto& e : cleanup.errors) spdlog::error("{}", e);
    if (!gone) continue;
    // The suffix goes when empty; either way hashes.pkl must forget or rehash it.
    (void)rmdir(suffix_dir.c_str());
    (void)diskfile::InvalidateHash(suffix_dir);
  }
}

}  // namespace

bool NativeBackend::KnownUnsupported(const std::string& peer) {
  std::lock_guard<std::mutex> l(mu_);
  return unsupported_.count(peer) > 0;
}

void NativeBackend::MarkUnsupported(const std::string& peer, const std::string& why) {
  std::lock_guard<std::mutex> l(mu_);
  if (unsupported_.insert(peer).second) {
    spdlog::info("{} does not speak the native protocol ({}); syncing it with ssync", peer, why);
  }
}

std::string NativeBackend::PeerKey(const Device& node) {
  return fmt::format("{}:{}", node.replication_ip, node.replication_port);
}

std::string NativeBackend::DeviceKey(const Device& node) {
  return PeerKey(node) + "/" + node.device;
}

SyncResult NativeBackend::Sync(const Device& node, const SyncJob& job,
                               const std::vector<std::string>& suffixes) {
  return SyncPeers(job, {PeerSync{node, suffixes, std::nullopt}}).front();
}

SyncResult NativeBackend::Check(const Device& node, const SyncJob& job,
                                const std::vector<std::string>& suffixes,
                                const std::set<std::string>& objs) {
  return SyncPeers(job, {PeerSync{node, suffixes, objs}}).front();
}

std::vector<SyncResult> NativeBackend::SyncPeers(const SyncJob& job,
                                                 const std::vector<PeerSync>& specs) {
  std::vector<Peer> peers(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Peer& p = peers[i];
    p.spec = &specs[i];
    p.suffixes.insert(specs[i].suffixes.begin(), specs[i].suffixes.end());
    if (specs[i].check_objs) p.check = &*specs[i].check_objs;
    if (KnownUnsupported(PeerKey(specs[i].node))) {
      p.result.unsupported = true;
    } else if (p.suffixes.empty()) {
      p.result.success = true;
    } else {
      p.wanted = true;
    }
  }
  // A single-batch partition (the usual case) opens each peer's session from that
  // peer's thread, holding its device from the opening to its Done: another job's
  // session to it (concurrency, pipelining) waits here, not on the receiver's lock,
  // and a peer thread holds one device at a time, so no two jobs deadlock.
  auto open_session = [&](Peer& p) {
    const Device& node = p.spec->node;
    p.opened = true;
    auto opened = NativeSession::Open(node, job.partition, job.policy_index, opts_.session);
    if (opened.error == NativeSession::OpenError::kUnsupported) {
      MarkUnsupported(PeerKey(node), opened.status.message());
      p.result.unsupported = true;
    } else if (!opened.session) {
      spdlog::error("native sync of {}/{}: {}", job.device, job.partition, opened.status.message());
    }
    p.session = std::move(opened.session);
    if (!p.session) p.device.reset();
  };
  auto open_one = [&](Peer& p) {
    p.device.emplace(gate_.Acquire({DeviceKey(p.spec->node)}));
    open_session(p);
  };
  std::optional<PeerGate::Hold> all_devices;  // a multi-batch partition's
  auto open_all = [&] {
    std::vector<std::string> devices;
    std::vector<Peer*> order;
    for (auto& p : peers) {
      if (!p.wanted) continue;
      devices.push_back(DeviceKey(p.spec->node));
      order.push_back(&p);
    }
    all_devices.emplace(gate_.Acquire(devices));
    std::sort(order.begin(), order.end(), [](const Peer* a, const Peer* b) {
      const Device &x = a->spec->node, &y = b->spec->node;
      return std::tie(x.replication_ip, x.replication_port, x.device) <
             std::tie(y.replication_ip, y.replication_port, y.device);
    });
    for (Peer* p : order) open_session(*p);
  };
  FanOut(opts_, job, peers, open_one, open_all).Walk();
  all_devices.reset();
  std::vector<SyncResult> out;
  for (auto& p : peers) {
    if (p.session) {
      bool ok = !p.failed && !p.walk_failed;
      // A checked object the peer lacks is unconfirmed, not a failed check.
      p.result.success = ok && (p.check || p.failed_hashes.empty());
      p.result.bytes_sent = p.session->bytes_sent();
      for (const auto& h : p.seen_hashes) {
        if (!p.failed_hashes.count(h)) p.result.in_sync_objects[h] = p.object_ts[h];
      }
      spdlog::info("native {} of {}/{} to {}: {} files sent ({} bytes, {} by delta), {} already "
                   "there{}", p.check ? "check" : "sync", job.device, job.partition,
                   p.session->name(), p.result.files_sent, p.result.bytes_sent, p.deltas,
                   p.already, p.result.success ? "" : ", failed");
    }
    out.push_back(std::move(p.result));
  }
  return out;
}

}  // namespace replicant::sync
