// The native receiver session: Hummingbird's objRepConnHandler loop, plus batches.
#include "sync_backends/native/native_receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/parallel_for.h"
#include "formats/peer_message.h"
#include "diskfile/object_writer.h"
#include "diskfile/fd.h"
#include "diskfile/timestamp.h"
#include "diskfile/object_metadata.h"
#include "diskfile/fs_util.h"
#include "hashes/partition_hashes.h"
#include "diskfile/replication_lock.h"
#include "sync_backends/native/native_delta.h"
#include "diskfile/invalidate.h"
#include "diskfile/ondisk_files.h"

namespace replicant::sync::native {
namespace {

using nlohmann::json;
constexpr size_t kCopyBuf = 1 << 16;
constexpr int64_t kMaxSignature = 64 << 20;
// Files of a batch whose fsyncs (or one syncfs) run together, and the threads that run
// them: the disk (and ext4's journal) commits concurrent fsyncs together. A group holds
// at most 2 * kSyncGroup files (a batch's tail of kSyncGroup or fewer joins the group
// before it), which bounds the temp files a session holds open.
constexpr size_t kSyncGroup = 64;
constexpr size_t kSyncThreads = 8;
// syncfs mode uses a syncfs only where it replaces at least kSyncfsMin fsyncs of small
// files or directories. A file of kFsyncAlwaysSize or more is fsynced on its own, and a
// batch with one keeps per-dir fsyncs: syncfs waits for all dirty data on the
// filesystem, other writers' too, which then costs more than the fsyncs it saves.
constexpr size_t kSyncfsMin = 8;
constexpr uint64_t kFsyncAlwaysSize = 1 << 20;

// A received file of a batch, checked and sealed in its temp file, not yet synced.
struct Pending {
  std::unique_ptr<diskfile::ObjectWriter> writer;
  size_t result;  // its index in the batch's upload results
  std::string name;
  bool large = false;  // kFsyncAlwaysSize or more: its own fsync in either mode
};

// One file the sender offered and we accepted, waiting for its body.
struct Accepted {
  ObjectFilePath path;
  std::string pickled;  // raw metadata xattr
  diskfile::Metadata metadata;  // decoded from it
  int64_t size = 0;
  diskfile::UniqueFd base_fd;  // delta base, held open from signature to patch
  uint64_t base_size = 0;
  bool delta = false;
};

class Session {
 public:
  Session(const NativeRequest& req, net::ByteStream& conn, NativeSessionStats* stats)
      : req_(req), conn_(conn), stats_(stats ? stats : &own_stats_),
        who_(fmt::format("{} {}/{}", req.remote_addr, req.target.device, req.target.partition)) {}

  Status Run();

 private:
  Status Violation(const std::string& text);
  // The next frame; a malformed one is a Violation, other errors get `context`.
  Result<json> ReadMessage(std::string_view context);
  Status Send(const json& j) { return WriteFrame(conn_, j); }
  // The raw pickle of r.Xattrs, once it decodes to metadata that matches the file.
  Result<std::string> CheckXattrs(const SyncFileRequest& r, const ObjectFilePath& p,
                                  diskfile::Metadata* decoded);
  // Checks an offer against the names in its hash dir; on GoAhead fills *acc and
  // adds the name to `present`.
  Result<SyncFileResponse> Evaluate(const SyncFileRequest& r, ObjectFilePath path,
                                    std::vector<std::string>& present, Accepted* acc);
  Status Single(const SyncFileRequest& r);
  Status Batch(const json& j);
  // Reads the body of `acc` (size raw bytes, or a chunked delta) and puts the file,
  // or, in a batch (`pending` set), leaves it sealed in *pending for CommitPending.
  // A Status error is a broken or hostile stream; a failed put is a response.
  Result<FileUploadResponse> ReceiveFile(Accepted& acc, bool delta,
                                         std::vector<std::string>* deferred,
                                         std::vector<Pending>* pending, size_t result);
  // Makes the pending files durable together, then publishes each into its result;
  // the writers of published files move to `committed` until their dirs are synced.
  void CommitPending(std::vector<Pending>& pending, BatchUploadResponse& results,
                     std::vector<Pending>& committed);
  // The batch's dir sync failed: takes back every file it published, so that no later
  // session answers "exists" for a name that may not survive a crash.
  void Unpublish(std::vector<Pending>& committed);
  // Makes the batch's renames durable: the directories they touched (fsync mode) or
  // the whole filesystem (syncfs mode).
  Status SyncDirs(std::vector<std::string>& dirs);
  // syncfs(2) of the device's filesystem, through a descriptor opened when the session
  // began, so that any write-back error since then is reported here.
  Status SyncFilesystem();

  const NativeRequest& req_;
  net::ByteStream& conn_;
  NativeSessionStats own_stats_;
  NativeSessionStats* stats_;
  std::string who_;
  diskfile::UniqueFd device_fd_;  // for syncfs; opened before the session writes anything
  bool batch_has_large_ = false;  // the batch being received holds a large file
  std::string buf_ = std::string(kCopyBuf, '\0');  // body copies, reused per file
};

Result<json> Session::ReadMessage(std::string_view context) {
  auto j = ReadFrame(conn_, req_.max_frame, FrameValueLimit(req_.max_batch_files));
  if (j.ok()) return j;
  if (j.status().IsInvalidArgument()) return Violation(j.status().message());
  return j.status().WithContext(context);
}

Status Session::Violation(const std::string& text) {
  // The text may quote the peer (a path, a metadata value): capped for the frame and
  // for the server's log line alike.
  std::string msg = CapPeerMessage(text);
  // Tell the sender why, if it still listens; then end the session.
  if (Send({{"Error", msg}}).ok()) conn_.Flush();
  return Status::InvalidArgument(std::move(msg));
}

Result<std::string> Session::CheckXattrs(const SyncFileRequest& r, const ObjectFilePath& p,
                                         diskfile::Metadata* decoded) {
  if (r.xattrs.size() > 2 * kMaxXattrsBytes) {
    return Status::InvalidArgument(fmt::format("xattrs of {} exceed {} bytes", r.path,
                                               kMaxXattrsBytes));
  }
  auto raw = HexDecode(r.xattrs);
  if (!raw.ok() || raw->empty()) return Status::InvalidArgument("bad xattrs for " + r.path);
  auto md = diskfile::DecodeMetadata(*raw);
  if (!md.ok()) return md.status().WithContext("xattrs of " + r.path);
  const std::string* xts = md->Get("X-Timestamp");
  auto ts = xts ? Timestamp::Parse(*xts) : Result<Timestamp>(Status::InvalidArgument("missing"));
  if (!ts.ok() || ts->internal() != p.file.timestamp.internal()) {
    return Status::InvalidArgument("X-Timestamp of " + r.path + " does not match its name");
  }
  if (p.file.kind != diskfile::FileKind::kData && r.size != 0) {
    return Status::InvalidArgument(r.path + ": .ts and .meta files have no body");
  }
  *decoded = std::move(*md);
  return std::move(*raw);
}

Result<SyncFileResponse> Session::Evaluate(const SyncFileRequest& r, ObjectFilePath path,
                                           std::vector<std::string>& present, Accepted* acc) {
  SyncFileResponse resp;
  switch (DecideOffer(present, path.filename)) {
    case Offer::kExists: resp.exists = true; resp.msg = "exists"; return resp;
    case Offer::kNewerExists: resp.newer_exists = true; resp.msg = "newer exists"; return resp;
    case Offer::kGoAhead: break;
  }
  if (r.check) return resp;  // Hummingbird's Check: existence only
  auto pickled = CheckXattrs(r, path, &acc->metadata);
  if (!pickled.ok()) return pickled.status();
  acc->path = std::move(path);
  acc->pickled = std::move(*pickled);
  acc->size = r.size;
  resp.go_ahead = true;
  resp.msg = "go ahead";
  if (req_.extensions.delta && acc->path.file.kind == diskfile::FileKind::kData &&
      static_cast<uint64_t>(r.size) >= req_.delta_min_size) {
    if (auto base = CurrentDataFile(present)) {
      std::string base_path = acc->path.hash_dir + "/" + *base;
      diskfile::UniqueFd fd(open(base_path.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st;
      if (fd.get() >= 0 && fstat(fd.get(), &st) == 0 && st.st_size > 0) {
        acc->base_size = static_cast<uint64_t>(st.st_size);
        acc->base_fd = std::move(fd);
        acc->delta = true;
        resp.delta = true;
      }
    }
  }
  present.push_back(acc->path.filename);  // later entries of a batch see it
  return resp;
}

Result<FileUploadResponse> Session::ReceiveFile(Accepted& acc, bool delta,
                                                std::vector<std::string>* deferred,
                                                std::vector<Pending>* pending, size_t result) {
  diskfile::WriterOptions wo;
  wo.policy_index = req_.target.policy_index;
  wo.reclaim_age = req_.reclaim_age;
  wo.deferred_dir_syncs = deferred;
  wo.caller_invalidates = pending != nullptr;  // CommitPending does it for the batch
  // A large body's MD5 then overlaps its fsync instead of its receive.
  wo.hash_while_syncing = static_cast<uint64_t>(acc.size) >= kFsyncAlwaysSize;
  wo.fallocate = req_.fallocate;
  wo.size = static_cast<uint64_t>(acc.size);  // a full device fails before any byte
  auto writer = diskfile::ObjectWriter::Create(req_.target.device_path(), acc.path.hash_dir, wo);
  std::optional<Status> write_error;
  auto sink = [&](std::string_view piece) -> Status {
    if (write_error) return Status::OK();  // keep reading: the stream stays in step
    Status s = (*writer)->Write(piece);
    if (!s.ok()) write_error = s;
    return Status::OK();
  };
  if (!writer.ok()) write_error = writer.status();
  uint64_t got = 0;
  if (delta) {
    if (!acc.delta) return Violation(acc.path.filename + ": delta body without a signature");
    Source src = [&]() { return ReadChunk(conn_); };
    auto n = ApplyDelta(acc.base_fd.get(), acc.base_size, src, static_cast<uint64_t>(acc.size),
                        sink);
    if (!n.ok()) return Violation("delta for " + acc.path.filename + ": " + n.status().message());
    got = *n;
    stats_->delta_files++;
  } else {
    while (got < static_cast<uint64_t>(acc.size)) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf_.size(), acc.size - got));
      if (Status s = conn_.ReadExact(buf_.data(), want, "file body"); !s.ok()) return s;
      sink(std::string_view(buf_.data(), want));
      got += want;
    }
  }
  stats_->bytes_received += got;
  FileUploadResponse resp;
  if (write_error) {
    resp.msg = write_error->message();
    spdlog::error("{}: writing {}: {}", who_, acc.path.filename, resp.msg);
    return resp;
  }
  if (got != static_cast<uint64_t>(acc.size)) {
    resp.msg = fmt::format("got {} bytes, expected {}", got, acc.size);
    return resp;
  }
  std::string name = acc.path.hash + "/" + acc.path.filename;
  if (pending) {
    Status st = (*writer)->PrepareRaw(acc.path.filename, acc.pickled, acc.metadata);
    if (st.ok()) {
      bool large = (*writer)->bytes_written() >= kFsyncAlwaysSize;
      batch_has_large_ |= large;
      pending->push_back({std::move(*writer), result, std::move(name), large});
      resp.msg = "pending";
      return resp;
    }
    resp.msg = st.message();
  } else {
    auto put = (*writer)->PutRaw(acc.path.filename, acc.pickled, acc.metadata);
    if (put.ok()) {
      stats_->files_received++;
      resp.success = true;
      resp.msg = "YAY";
      return resp;
    }
    resp.msg = put.status().message();
  }
  spdlog::error("{}: {}: {}", who_, name, resp.msg);
  return resp;
}

Status Session::SyncFilesystem() {
  stats_->batch_syncfs++;
  if (syncfs(device_fd_.get()) != 0) {
    return Status::FromErrno("syncfs " + req_.target.device_path(), errno);
  }
  return Status::OK();
}

void Session::CommitPending(std::vector<Pending>& pending, BatchUploadResponse& results,
                            std::vector<Pending>& committed) {
  std::vector<Status> synced(pending.size());
  size_t small = std::count_if(pending.begin(), pending.end(),
                               [](const Pending& p) { return !p.large; });
  bool use_syncfs = req_.batch_sync == BatchSync::kSyncfs && small >= kSyncfsMin;
  std::vector<size_t> own;  // fsynced one by one; the others by one syncfs after them
  for (size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].large || !use_syncfs) own.push_back(i);
  }
  ParallelFor(own.size(), kSyncThreads,
              [&](size_t k) { synced[own[k]] = pending[own[k]].writer->SyncData(); });
  stats_->batch_fsyncs += own.size();
  if (use_syncfs) {
    Status s = SyncFilesystem();
    for (size_t i = 0; i < pending.size(); ++i) {
      if (pending[i].large) continue;
      synced[i] = s.ok() ? pending[i].writer->DataSyncedByFilesystemSync() : s;
    }
  }
  // Swift invalidates each suffix before its rename; one append does it for the batch.
  std::map<std::string, std::set<std::string>> suffixes;  // partition dir -> suffixes
  for (size_t i = 0; i < pending.size(); ++i) {
    std::string dir = pending[i].writer->suffix_dir();
    if (synced[i].ok()) suffixes[diskfile::fs::Dirname(dir)].insert(diskfile::fs::Basename(dir));
  }
  std::map<std::string, Status> invalidated;
  for (const auto& [part, names] : suffixes) {
    invalidated[part] = diskfile::InvalidateHashes(part, {names.begin(), names.end()});
  }
  for (size_t i = 0; i < pending.size(); ++i) {
    FileUploadResponse& r = results.files[pending[i].result];
    std::string part = diskfile::fs::Dirname(pending[i].writer->suffix_dir());
    if (synced[i].ok()) synced[i] = invalidated[part];
    auto done = synced[i].ok() ? pending[i].writer->Commit() : Result<std::string>(synced[i]);
    if (done.ok()) {
      stats_->files_received++;
      r = {true, "YAY"};
      committed.push_back(std::move(pending[i]));
    } else {
      r = {false, done.status().message()};
      spdlog::error("{}: {}: {}", who_, pending[i].name, r.msg);
    }
  }
  pending.clear();
}

Status Session::Single(const SyncFileRequest& r) {
  auto path = ParseSyncPath(r.path, req_.target);
  if (!path.ok()) return Violation(path.status().message());
  auto names = ListHashDir(path->hash_dir);
  if (!names.ok()) return Violation(names.status().message());
  Accepted acc;
  auto resp = Evaluate(r, std::move(*path), *names, &acc);
  if (!resp.ok()) return Violation(resp.status().message());
  resp->delta = false;  // a plain peer never gets a signature
  if (Status s = Send(ToJson(*resp)); !s.ok()) return s;
  if (Status s = conn_.Flush(); !s.ok()) return s;
  if (!resp->go_ahead) return Status::OK();
  auto up = ReceiveFile(acc, false, nullptr, nullptr, 0);
  if (!up.ok()) return up.status();
  if (Status s = Send(ToJson(*up)); !s.ok()) return s;
  return conn_.Flush();
}

Status Session::Batch(const json& j) {
  BatchRequest batch;
  if (Status s = FromJson(j, &batch, req_.max_batch_files); !s.ok()) return Violation(s.message());
  BatchResponse out;
  std::vector<Accepted> accepted;
  std::vector<std::string> signatures;
  // Names per hash dir, including files accepted earlier in this batch.
  std::map<std::string, std::vector<std::string>> present;
  for (const auto& r : batch.files) {
    if (r.check || r.ping || r.done) return Violation("Check, Ping and Done do not go in a batch");
    auto path = ParseSyncPath(r.path, req_.target);
    if (!path.ok()) return Violation(path.status().message());
    auto it = present.find(path->hash_dir);
    if (it == present.end()) {
      auto listed = ListHashDir(path->hash_dir);
      if (!listed.ok()) return Violation(listed.status().message());
      it = present.emplace(path->hash_dir, std::move(*listed)).first;
    }
    Accepted acc;
    auto resp = Evaluate(r, std::move(*path), it->second, &acc);
    if (!resp.ok()) return Violation(resp.status().message());
    if (resp->delta) {
      auto sig = FileSignature(acc.base_fd.get(), acc.base_size);
      if (sig.ok() && static_cast<int64_t>(sig->size()) <= kMaxSignature) {
        resp->signature_size = static_cast<int64_t>(sig->size());
        signatures.push_back(std::move(*sig));
      } else {
        resp->delta = false;
        acc.delta = false;
      }
    }
    if (resp->go_ahead) accepted.push_back(std::move(acc));
    out.files.push_back(std::move(*resp));
  }
  if (Status s = Send(ToJson(out)); !s.ok()) return s;
  for (const auto& sig : signatures) {
    if (Status s = conn_.Write(sig); !s.ok()) return s;
  }
  if (Status s = conn_.Flush(); !s.ok()) return s;
  if (accepted.empty()) return Status::OK();  // no bodies, no upload results

  BatchUploadResponse results;
  batch_has_large_ = false;
  std::vector<std::string> deferred;
  std::vector<Pending> pending, committed;
  for (size_t i = 0; i < accepted.size(); ++i) {
    Accepted& acc = accepted[i];
    // A group is made durable once it holds kSyncGroup files, unless no more than that
    // are still to come: those join it (a group holds at most 2 * kSyncGroup), so a
    // batch of 78 small files costs one sync of its data, not two.
    if (pending.size() >= kSyncGroup && accepted.size() - i > kSyncGroup) {
      CommitPending(pending, results, committed);
    }
    auto hj = ReadMessage("body header");
    if (!hj.ok()) return hj.status();
    BodyHeader h;
    if (Status s = FromJson(*hj, &h); !s.ok()) return Violation(s.message());
    if (h.skip) {
      results.files.push_back({false, "skipped by the sender"});
      continue;
    }
    if (!h.delta && h.size != acc.size) {
      return Violation(fmt::format("{}: body of {} bytes announced as Size {}", acc.path.filename,
                                   h.size, acc.size));
    }
    auto up = ReceiveFile(acc, h.delta, &deferred, &pending, results.files.size());
    if (!up.ok()) return up.status();
    results.files.push_back(std::move(*up));
  }
  CommitPending(pending, results, committed);
  if (Status s = SyncDirs(deferred); !s.ok()) {
    spdlog::error("{}: {}", who_, s.message());
    Unpublish(committed);
    for (auto& f : results.files) f = {false, s.message()};
  }
  if (Status s = Send(ToJson(results)); !s.ok()) return s;
  return conn_.Flush();
}

void Session::Unpublish(std::vector<Pending>& committed) {
  for (Pending& p : committed) {
    if (Status s = p.writer->Unpublish(); !s.ok()) {
      // Still answered as failed; only a crash could now lose what stays visible.
      spdlog::error("{}: {}: {}", who_, p.name, s.message());
    }
  }
  stats_->files_received -= committed.size();
  committed.clear();
}

Status Session::SyncDirs(std::vector<std::string>& dirs) {
  if (dirs.empty()) return Status::OK();
  // One fsync per directory for the whole batch, or one syncfs for them all.
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  if (req_.batch_sync == BatchSync::kSyncfs && !batch_has_large_ && dirs.size() >= kSyncfsMin) {
    return SyncFilesystem();
  }
  std::vector<Status> synced(dirs.size());
  std::atomic<uint64_t> fsyncs{0};
  ParallelFor(dirs.size(), kSyncThreads, [&](size_t i) {
    // A dir that cleanup removed (its file was obsolete on arrival) needs no fsync.
    if (access(dirs[i].c_str(), F_OK) != 0 && errno == ENOENT) return;
    synced[i] = diskfile::FsyncDir(dirs[i]);
    fsyncs++;
  });
  stats_->batch_fsyncs += fsyncs;
  for (const Status& s : synced) {
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status Session::Run() {
  auto first = ReadMessage("BeginReplicationRequest");
  if (!first.ok()) return first.status();
  BeginReplicationRequest begin;
  if (Status s = FromJson(*first, &begin); !s.ok()) return Violation(s.message());
  if (begin.device != req_.target.device || begin.partition != req_.target.partition) {
    return Violation(fmt::format("BeginReplicationRequest names {}/{}, the URL {}/{}",
                                 begin.device, begin.partition, req_.target.device,
                                 req_.target.partition));
  }
  std::string part_dir = req_.target.dir();
  auto part_lock = diskfile::ReplicationLock::Acquire(part_dir, "replication", 1,
                                                    req_.replication_lock_timeout);
  if (!part_lock.ok()) return Violation("partition busy: " + part_lock.status().message());
  std::optional<diskfile::ReplicationLock> dev_lock;
  if (req_.replication_concurrency_per_device > 0) {
    auto l = diskfile::ReplicationLock::Acquire(req_.target.device_path(), "",
                                              req_.replication_concurrency_per_device,
                                              req_.replication_lock_timeout);
    if (!l.ok()) return Violation("device busy: " + l.status().message());
    dev_lock.emplace(std::move(*l));
  }
  device_fd_ = diskfile::UniqueFd(
      open(req_.target.device_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (device_fd_.get() < 0) {
    return Violation("open " + req_.target.device_path() + ": " + strerror(errno));
  }
  BeginReplicationResponse br;
  if (begin.need_hashes) {
    hashes::GetHashesOptions o;
    o.reclaim_age = req_.reclaim_age;
    o.want_dict = false;
    auto h = hashes::GetHashes(part_dir, o);
    if (!h.ok()) return Violation("hashes: " + h.status().message());
    br.hashes = h->hashes;
  }
  if (Status s = Send(ToJson(br)); !s.ok()) return s;
  if (Status s = conn_.Flush(); !s.ok()) return s;

  for (;;) {
    auto j = ReadMessage("next request");
    if (!j.ok()) {
      if (j.status().IsNotFound()) return Status::IOError("sender closed the session without Done");
      return j.status();
    }
    if (j->is_object() && j->contains("Files")) {
      if (!req_.extensions.batch) return Violation("batch was not negotiated");
      if (Status s = Batch(*j); !s.ok()) return s;
      continue;
    }
    SyncFileRequest r;
    if (Status s = FromJson(*j, &r); !s.ok()) return Violation(s.message());
    if (r.done) return Status::OK();
    if (r.ping) {
      if (Status s = Send(ToJson(SyncFileResponse{false, false, false, "pong"})); !s.ok()) return s;
      if (Status s = conn_.Flush(); !s.ok()) return s;
      continue;
    }
    if (Status s = Single(r); !s.ok()) return s;
  }
}

}  // namespace

Status HandleNativeSession(const NativeRequest& req, net::ByteStream& conn, NativeSessionStats* stats) {
  return Session(req, conn, stats).Run();
}

}  // namespace replicant::sync::native
