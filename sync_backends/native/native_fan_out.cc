#include "sync_backends/native/native_fan_out.h"

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
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "diskfile/fd.h"
#include "diskfile/quarantine.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/yield_hashes.h"
#include "diskfile/timestamp.h"
#include "hashes/partition_hashes.h"
#include "sync_backends/native/native_delta.h"
#include "diskfile/object_metadata.h"
#include "diskfile/layout.h"

namespace replicant::sync::native {
namespace {


constexpr size_t kReadChunk = 256 << 10;
constexpr int64_t kThrottledChunk = 64 << 10;  // as ssync's disk_chunk_size
constexpr int64_t kMaxSignature = 64 << 20;
// Small .data bodies are read during the walk, with their metadata, before any
// session is open: the receivers then never wait on our disk reads. Bounded per batch.
constexpr int64_t kPreloadMax = 64 << 10;
constexpr uint64_t kPreloadBudget = 4 << 20;

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

}  // namespace

// What one peer said about one item of a batch.
struct Answer {
  native::SyncFileResponse offer;
  std::string signature;
  bool sent = false;  // a body went out for it
};


void FanOut::FailSuffix(const std::string& suffix, const std::string& why) {
  for (auto& p : peers_) {
    if (!p.suffixes.count(suffix)) continue;
    p.walk_failed = true;
    p.Note(Status::IOError(why + "; keeping the files"));
  }
}

void FanOut::Fail(Peer& p, const Status& st) {
  if (p.failed) return;
  p.Note(st);
  p.failed = true;
}

void FanOut::Walk() {
  std::set<std::string> all;
  for (const auto& p : peers_) {
    if (p.wanted) all.insert(p.suffixes.begin(), p.suffixes.end());
  }
  const double now = Timestamp::Now().seconds();
  for (const auto& suffix : all) {
    Status st = diskfile::ForEachObject(
        job_.path + "/" + suffix, o_.reclaim_age, now,
        [&](const std::string& hash, const diskfile::OnDiskFiles& f) { AddObject(suffix, hash, f); });
    if (!st.ok()) FailSuffix(suffix, st.message());
  }
  // The last batch, possibly empty: the sessions still say whether the peers are up.
  RunBatch(true);
}

void FanOut::AddObject(const std::string& suffix, const std::string& hash,
                       const diskfile::OnDiskFiles& f) {
  std::string dir = job_.path + "/" + suffix + "/" + hash;
  std::vector<const diskfile::OnDiskFile*> keep;
  if (f.data_info) keep.push_back(&*f.data_info);
  if (f.ts_info) keep.push_back(&*f.ts_info);
  if (f.meta_info) keep.push_back(&*f.meta_info);
  if (f.ctype_info && (!f.meta_info || f.ctype_info->name != f.meta_info->name)) {
    keep.push_back(&*f.ctype_info);
  }
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
  } else {
    p.Note(Status::IOError(fmt::format("{} not stored: {}", it.rel, u.msg)));
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
  ReportHeld(items, held);
}

void FanOut::PeerBatch(Peer& p, const std::vector<Item>& items, std::vector<bool>& held,
                       bool last) {
  // The batch's offer, built once (it may go with the session's opening); not for
  // check peers or a session without batches, which never send it.
  native::BatchRequest offer;
  if (!p.check && (!p.session || p.session->extensions().batch)) offer = OfferFor(p, items);
  if (!p.session && !p.opened) open_one_(p, offer.files.empty() ? nullptr : &offer);
  if (p.alive() && p.check) {
    // Check requests do not go in a batch: one round trip per file, no bodies.
    OneByOne(p, items, held, &FanOut::CheckExchange);
  } else if (p.alive() && !p.session->extensions().batch) {
    OneByOne(p, items, held, &FanOut::PlainExchange);
  } else if (p.alive()) {
    std::vector<Answer> answers;
    if (Status st = OfferBatch(p, offer, &answers); !st.ok()) Fail(p, st);
    size_t uploads = SendBodies(p, items, answers, held);
    if (p.alive() && uploads > 0) {
      // The last batch's Done goes with its bodies: the receiver ends the session (and
      // frees its device) as soon as it has answered them, a round trip sooner.
      if (Status st = last ? p.session->SendDone() : Status::OK(); !st.ok()) Fail(p, st);
      if (p.alive()) ReadUploadResults(p, items, answers, uploads, held);
    }
  }
  if (last) {
    if (p.alive()) p.session->Finish();
    p.device.reset();  // the next job's session to this device may start
  }
}

void FanOut::OneByOne(Peer& p, const std::vector<Item>& items, std::vector<bool>& held,
                      void (FanOut::*exchange)(Peer&, const Item&, bool*)) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (!Wants(p, items[i])) continue;
    bool h = false;
    (this->*exchange)(p, items[i], &h);
    held[i] = h;
  }
}

native::BatchRequest FanOut::OfferFor(const Peer& p, const std::vector<Item>& items) const {
  native::BatchRequest br;
  for (const auto& it : items) {
    if (Covers(p, it)) br.files.push_back(Request(p, it));
  }
  return br;
}

// The batch's offer to `p` (every item it covers; unless it went with the opening),
// and its BatchResponse: one answer per offer, in order, each followed on the stream by
// its signature when it asks for a delta.
Status FanOut::OfferBatch(Peer& p, const native::BatchRequest& br,
                          std::vector<Answer>* answers) {
  std::vector<Answer>& ans = *answers;
  ans.resize(br.files.size());
  if (br.files.empty()) return Status::OK();
  Status st;
  if (!std::exchange(p.offer_sent, false)) st = p.session->Send(native::ToJson(br));
  if (st.ok()) st = p.session->Flush();
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
      return Status::InvalidArgument("bad signature announcement");
    }
    ans[k].signature.resize(static_cast<size_t>(ans[k].offer.signature_size));
    st = p.session->stream().ReadExact(ans[k].signature.data(), ans[k].signature.size(),
                                       "signature");
  }
  return st;
}

// Bodies in offer order; returns how many went out (each gets an upload result).
size_t FanOut::SendBodies(Peer& p, const std::vector<Item>& items, std::vector<Answer>& ans,
                          std::vector<bool>& held) {
  size_t offer = 0, uploads = 0;
  for (size_t i = 0; p.alive() && i < items.size(); ++i) {
    if (!Wants(p, items[i])) continue;
    Answer& a = ans[offer++];
    if (a.offer.exists || a.offer.newer_exists) {
      held[i] = true;
      p.already++;
    } else if (a.offer.go_ahead) {
      SendBody(p, a, items[i]);
      uploads++;
    }
  }
  return uploads;
}

// The uploads' results: one per GoAhead, after the receiver made them durable.
void FanOut::ReadUploadResults(Peer& p, const std::vector<Item>& items,
                               const std::vector<Answer>& ans, size_t uploads,
                               std::vector<bool>& held) {
  Status st = p.session->Flush();
  auto j = st.ok() ? p.session->Receive() : Result<nlohmann::json>(st);
  native::BatchUploadResponse up;
  st = j.ok() ? native::FromJson(*j, &up, uploads) : j.status();
  if (st.ok() && up.files.size() != uploads) {
    st = Status::InvalidArgument("wrong number of upload results");
  }
  if (!st.ok()) return Fail(p, st);
  size_t offer = 0, upload = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!Wants(p, items[i])) continue;
    if (!ans[offer++].offer.go_ahead) continue;
    const native::FileUploadResponse& r = up.files[upload++];
    if (r.success) {
      held[i] = true;
      p.result.files_sent++;
    } else {
      p.Note(Status::IOError(fmt::format("{} not stored: {}", items[i].rel, r.msg)));
    }
  }
}

// Tells the job, object by object, how many peers hold all of its files in this batch.
void FanOut::ReportHeld(const std::vector<Item>& items,
                        const std::map<Peer*, std::vector<bool>>& held) {
  if (!job_.on_held) return;
  std::map<std::string, std::pair<size_t, size_t>> span;  // hash -> [first, last]
  for (size_t i = 0; i < items.size(); ++i) {
    auto [it, fresh] = span.emplace(items[i].hash, std::make_pair(i, i));
    if (!fresh) it->second.second = i;
  }
  for (const auto& [hash, range] : span) {
    HeldObject obj{items[range.first].suffix, hash, {}, 0};
    for (const auto& [p, h] : held) {
      bool all = !p->failed;
      for (size_t i = range.first; all && i <= range.second; ++i) all = h[i];
      obj.holders += all;
    }
    if (obj.holders == 0) continue;
    for (size_t i = range.first; i <= range.second; ++i) obj.files.insert(items[i].filename);
    job_.on_held(obj);
  }
}

}  // namespace replicant::sync::native
