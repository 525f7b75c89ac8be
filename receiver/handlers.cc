#include "receiver/handlers.h"

#include <functional>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/parallel_for.h"
#include "formats/pickle.h"
#include "diskfile/fallocate.h"
#include "diskfile/layout.h"
#include "formats/py_text.h"
#include "formats/replicate_batch.h"
#include "hashes/partition_hashes.h"
#include "receiver/priority_handler.h"
#include "sync_backends/native/native_receiver.h"
#include "sync_backends/ssync/ssync_receiver.h"
#include "diskfile/invalidate.h"
#include "diskfile/drive.h"

namespace replicant::receiver {
namespace {

constexpr const char* kServiceUnavailable =
    "<html><h1>Service Unavailable</h1><p>The server is currently unavailable. Please try "
    "again at a later time.</p></html>";

// The partitions of one REPLICATE-BATCH hashed at once (its cold reads overlap): a
// few, as one batch holds at most 16 and a server answers many batches at once.
constexpr size_t kBatchHashThreads = 4;

HttpError BadRequest(const Status& st) { return {400, st.message(), "text/plain"}; }

// An error answer, with its reason on the access log line.
Status Refuse(Exchange& ex, const HttpError& e, std::string why = "") {
  ex.Note(why.empty() ? e.body : why);
  return ex.Respond(e);
}

// Only replication policies have suffix hashes and SSYNC as replicant implements them.
std::optional<HttpError> CheckPolicyType(const StoragePolicy& p) {
  if (p.type == "replication") return std::nullopt;
  return HttpError{503, fmt::format("Policy {} ({}) is not a replication policy", p.index,
                                    p.type), "text/plain"};
}

// A partition the policy's ring does not have is a malformed path: refused before
// anything on disk is touched (the replicator would otherwise find it later).
// `limit`: ctx.bounds.Limit(p), which stats the ring file (a batch asks it once).
std::optional<HttpError> CheckPartitionInRing(std::optional<uint64_t> limit,
                                              const StoragePolicy& p,
                                              const std::string& partition) {
  if (!limit || std::stoull(partition) < *limit) return std::nullopt;  // canonical: < 2^32
  return HttpError{400, fmt::format("Invalid partition: {} (policy {} has {} partitions)",
                                    py::Quote(partition), p.index, *limit), "text/plain"};
}

// A device already at its fallocate_reserve takes no new replication: a 507, so the
// sender treats it as full and (for a primary) tries the next node, as for an
// unmounted device. Swift checks only when it allocates; its PUTs would all fail.
Status CheckReserve(const ServerConfig& cfg, const std::string& dev_path) {
  return diskfile::CheckFallocateReserveAt(dev_path, cfg.fallocate);
}

std::string PartitionPath(const std::string& dev_path, const StoragePolicy& p,
                          const std::string& partition) {
  return diskfile::PartitionDirOn(dev_path, p.index, partition);
}

// The last checks of every replication request, in Swift's order: the policy's type,
// the drive, the fallocate reserve. The device's path; on a refusal, nullopt with the
// answer sent and *refused holding its status.
std::optional<std::string> UsableDevice(Exchange& ex, const StoragePolicy& policy,
                                        const std::string& device, Status* refused) {
  ServerContext& ctx = ex.context();
  if (auto e = CheckPolicyType(policy)) {
    *refused = Refuse(ex, *e);
    return std::nullopt;
  }
  auto dev = diskfile::CheckDrive(ctx.config.devices, device, ctx.config.mount_check);
  if (!dev.ok()) {
    *refused = Refuse(ex, InsufficientStorage(device), dev.status().message());
    return std::nullopt;
  }
  if (Status st = CheckReserve(ctx.config, *dev); !st.ok()) {
    *refused = Refuse(ex, InsufficientStorage(device), st.message());
    return std::nullopt;
  }
  return *dev;
}

// A session request (SSYNC, REPCONN) that passed Swift's checks.
struct Admitted {
  const StoragePolicy* policy;
  RequestPartition target;  // /<device>/<partition>
};

// Swift's Receiver.initialize_request checks, in its order, as plain HTTP answers:
// policy, path, `extra` (protocol-specific headers), policy type, drive. On a refusal
// the answer has been sent and *refused holds its status.
std::optional<Admitted> Admit(Exchange& ex, Status* refused,
                              const std::function<std::optional<HttpError>(const net::HttpRequest&)>& extra) {
  const net::HttpRequest& req = ex.request();
  ServerContext& ctx = ex.context();
  auto refuse = [&](const HttpError& e, std::string why = "") -> std::optional<Admitted> {
    *refused = Refuse(ex, e, std::move(why));
    return std::nullopt;
  };
  const std::string* pidx = req.Header("x-backend-storage-policy-index");
  const StoragePolicy* policy = ResolvePolicy(ctx.swift, pidx);
  if (!policy) return refuse(NoSuchPolicy(pidx));
  auto target = ParseSsyncPath(req.path);
  if (!target.ok()) return refuse(BadRequest(target.status()));
  if (auto e = CheckPartitionInRing(ctx.bounds.Limit(*policy), *policy, target->partition)) {
    return refuse(*e);
  }
  if (auto e = extra(req)) return refuse(*e);
  if (!UsableDevice(ex, *policy, target->device, refused)) return std::nullopt;
  return Admitted{policy, std::move(*target)};
}

std::string Where(const RequestPartition& t, const StoragePolicy& p) {
  return fmt::format("{}/{} policy {}", t.device, t.partition, p.index);
}

// get_hashes of one partition, answered as REPLICATE answers it: 200 and the pickle;
// 507 when its hashes.pkl could not be written for want of space; 500 otherwise.
// *error: why, with where (OK on 200).
HttpError HashesAnswer(ServerContext& ctx, const std::string& dev_path, const StoragePolicy& p,
                       const RequestPartition& t, Status* error) {
  hashes::GetHashesOptions opts;
  opts.reclaim_age = ctx.config.reclaim_age;
  opts.want_hashes = false;  // the answer is the pickle
  auto got = hashes::GetHashes(PartitionPath(dev_path, p, t.partition), opts);
  if (!got.ok()) {
    *error = got.status().WithContext(Where(t, p));
    if (got.status().IsNoSpace()) return InsufficientStorage(t.device);
    return {500, "<html><h1>Internal Error</h1><p>" + got.status().message() + "</p></html>"};
  }
  for (const auto& err : got->errors) spdlog::error("{}: {}", Where(t, p), err.message());
  *error = Status::OK();
  return {200, pickle::Dumps(got->dict), ""};
}

}  // namespace

Status HandleReplicate(Exchange& ex) {
  const net::HttpRequest& req = ex.request();
  ServerContext& ctx = ex.context();
  // Swift's order: policy (get_name_and_placement), path, then the drive (get_hashes).
  const std::string* pidx = req.Header("x-backend-storage-policy-index");
  const StoragePolicy* policy = ResolvePolicy(ctx.swift, pidx);
  if (!policy) return Refuse(ex, NoSuchPolicy(pidx));
  auto target = ParseReplicatePath(req.path);
  if (!target.ok()) return Refuse(ex, BadRequest(target.status()));
  if (auto e = CheckPartitionInRing(ctx.bounds.Limit(*policy), *policy, target->partition)) {
    return Refuse(ex, *e);
  }
  Status refused;
  auto dev = UsableDevice(ex, *policy, target->device, &refused);
  if (!dev) return refused;
  std::string part_path = PartitionPath(*dev, *policy, target->partition);
  if (!target->suffixes.empty()) {
    // Swift 2.30: get_hashes(skip_rehash=True) only marks the valid suffixes dirty.
    for (const auto& s : target->suffixes) {
      if (!ValidSuffix(s)) continue;
      if (Status st = diskfile::InvalidateHash(part_path + "/" + s); !st.ok()) {
        if (st.IsNoSpace()) return Refuse(ex, InsufficientStorage(target->device), st.message());
        ex.Respond(500, "<html><h1>Internal Error</h1><p>" + st.message() + "</p></html>");
        return st.WithContext(Where(*target, *policy));
      }
    }
    return ex.Respond(200, pickle::Dumps(pickle::Value::None()));
  }
  Status error;
  HttpError answer = HashesAnswer(ctx, *dev, *policy, *target, &error);
  if (answer.status == 200) return ex.Respond(200, answer.body);
  if (answer.status == 507) return Refuse(ex, answer, error.message());
  ex.Respond(answer);
  return error;
}

Status HandleReplicateBatch(Exchange& ex) {
  const net::HttpRequest& req = ex.request();
  ServerContext& ctx = ex.context();
  // REPLICATE's checks, in its order, once for the device and per partition for the
  // partitions' shape and range.
  const std::string* pidx = req.Header("x-backend-storage-policy-index");
  const StoragePolicy* policy = ResolvePolicy(ctx.swift, pidx);
  if (!policy) return Refuse(ex, NoSuchPolicy(pidx));
  auto targets = ParseReplicateBatch(req.path, req.Header("x-replicant-partitions"));
  if (!targets.ok()) return Refuse(ex, BadRequest(targets.status()));
  std::optional<uint64_t> limit = ctx.bounds.Limit(*policy);
  for (const auto& t : *targets) {
    if (auto e = CheckPartitionInRing(limit, *policy, t.partition)) return Refuse(ex, *e);
  }
  Status refused;
  auto dev = UsableDevice(ex, *policy, targets->front().device, &refused);
  if (!dev) return refused;
  // The partitions are independent: hashed on a few threads at once, so that their
  // cold reads (partition dir, hashes.invalid, hashes.pkl) overlap; answered in order.
  std::vector<Status> errors(targets->size());
  std::vector<HttpError> answers(targets->size());
  ParallelFor(targets->size(), kBatchHashThreads, [&](size_t i) {
    answers[i] = HashesAnswer(ctx, *dev, *policy, (*targets)[i], &errors[i]);
  });
  std::string body;
  size_t failed = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (!errors[i].ok()) {
      ++failed;
      spdlog::error("REPLICATE-BATCH {}", errors[i].message());
    }
    replicate_batch::AppendEntry(answers[i].status, answers[i].body, &body);
  }
  ex.Note(fmt::format("{} partitions{}", targets->size(),
                      failed ? fmt::format(", {} failed", failed) : ""));
  return ex.Respond(200, body);
}

Status HandleSsyncRequest(Exchange& ex) {
  const net::HttpRequest& req = ex.request();
  ServerContext& ctx = ex.context();
  const ServerConfig& cfg = ctx.config;
  Status refused;
  auto admitted = Admit(ex, &refused, [](const net::HttpRequest& r) -> std::optional<HttpError> {
    if (const std::string* frag = r.Header("x-backend-ssync-frag-index");
        frag && !frag->empty() && !ParsePythonInt(*frag).ok()) {
      return HttpError{400, "Invalid X-Backend-Ssync-Frag-Index " +
                                pickle::Value::Str(*frag).Repr(), "text/plain"};
    }
    return std::nullopt;
  });
  if (!admitted) return refused;
  const StoragePolicy* policy = admitted->policy;
  const RequestPartition* target = &admitted->target;
  std::string where = fmt::format("{}/{}/{}", req.peer, target->device, target->partition);

  sync::ssync::SsyncRequest sreq;
  sreq.devices_dir = cfg.devices;
  sreq.device = target->device;
  sreq.partition = target->partition;
  sreq.policy_index = policy->index;
  for (const auto& [k, v] : req.headers) sreq.headers.emplace(k, v);  // first one wins
  sreq.remote_addr = req.peer;
  sreq.reclaim_age = cfg.reclaim_age;
  sreq.client_timeout = cfg.client_timeout;
  sreq.network_chunk_size = cfg.network_chunk_size;
  sreq.replication_lock_timeout = cfg.replication_lock_timeout;
  sreq.hash_path_prefix = ctx.swift.hash_path_prefix;
  sreq.hash_path_suffix = ctx.swift.hash_path_suffix;
  sreq.swift_dir = cfg.swift_dir;
  // The session takes the device slot inside its partition lock, in Swift's order.
  sreq.replication_concurrency_per_device = cfg.replication_concurrency_per_device;
  sreq.fallocate = cfg.fallocate;
  sreq.replication_failure_threshold = cfg.replication_failure_threshold;
  sreq.replication_failure_ratio = cfg.replication_failure_ratio;
  if (Status st = sync::ssync::ValidateSsyncRequest(sreq); !st.ok()) {
    return Refuse(ex, BadRequest(st));
  }

  // The sender waits for the response head before it sends its body.
  auto out = ex.StartChunked(200, {{"X-Backend-Accept-No-Commit", "True"}});
  if (!out.ok()) return out.status().WithContext(where);
  net::ByteStream& w = **out;
  auto slot = ctx.slots.TryAcquire();
  if (!slot) {
    // Swift yields "\r\n", then fails replication_semaphore.acquire(False) with
    // HTTPServiceUnavailable, whose body it sends as ":ERROR: %d %r".
    ex.Note(fmt::format("replication_concurrency {} reached", ctx.slots.limit()));
    if (w.Write("\r\n").ok()) {
      w.Write(fmt::format(":ERROR: 503 {}\n", pickle::Value::Bytes(kServiceUnavailable).Repr()));
    }
    return Status::OK();
  }
  // HandleSsync writes Swift's leading "\r\n" itself.
  // The session logs its own failures (as Swift's receiver does); the access line only
  // notes them, so one failure gives one error line.
  Status st = sync::ssync::HandleSsync(sreq, ex.Body(), w);
  if (!st.ok()) ex.Note(st.message());
  return Status::OK();
}

Status HandleRepconn(Exchange& ex) {
  const net::HttpRequest& req = ex.request();
  ServerContext& ctx = ex.context();
  const ServerConfig& cfg = ctx.config;
  Status refused;
  auto admitted = Admit(ex, &refused, [](const net::HttpRequest&) { return std::optional<HttpError>(); });
  if (!admitted) return refused;
  const StoragePolicy* policy = admitted->policy;
  const RequestPartition* target = &admitted->target;
  auto slot = ctx.slots.TryAcquire();
  if (!slot) {
    return Refuse(ex, HttpError{503, kServiceUnavailable, "text/html; charset=UTF-8"},
                  fmt::format("replication_concurrency {} reached", ctx.slots.limit()));
  }
  sync::native::NativeRequest nreq;
  nreq.target = {cfg.devices, target->device, target->partition, policy->index};
  nreq.remote_addr = req.peer;
  const std::string* offered = req.Header("x-replicant-native");
  nreq.extensions = sync::native::Extensions::Parse(offered ? *offered : "")
                        .Intersect(sync::native::Extensions::Parse(cfg.native_extensions));
  nreq.reclaim_age = cfg.reclaim_age;
  nreq.max_frame = cfg.native_max_frame;
  nreq.max_batch_files = static_cast<size_t>(cfg.native_max_batch);
  nreq.delta_min_size = static_cast<uint64_t>(cfg.native_delta_min_size);
  nreq.batch_sync = cfg.native_batch_sync == "fsync" ? sync::native::BatchSync::kFsync
                                                     : sync::native::BatchSync::kSyncfs;
  nreq.replication_lock_timeout = cfg.replication_lock_timeout;
  nreq.replication_concurrency_per_device = cfg.replication_concurrency_per_device;
  nreq.fallocate = cfg.fallocate;
  net::Headers headers;
  if (nreq.extensions.any()) {
    headers.emplace_back(sync::native::kExtensionsHeader, nreq.extensions.ToHeader());
  }
  auto conn = ex.Hijack(200, std::move(headers));
  if (!conn.ok()) return conn.status();
  sync::native::NativeSessionStats stats;
  Status st = sync::native::HandleNativeSession(nreq, **conn, &stats);
  ex.Note(fmt::format("{} files, {} bytes received ({} by delta), batches synced by {} syncfs "
                      "+ {} fsyncs{}", stats.files_received, stats.bytes_received,
                      stats.delta_files, stats.batch_syncfs, stats.batch_fsyncs,
                      nreq.extensions.any() ? ", extensions " + nreq.extensions.ToHeader() : ""));
  return st;
}

void RegisterReplicationHandlers(Server& server) {
  server.Register("REPLICATE", HandleReplicate);
  server.Register(std::string(replicate_batch::kMethod), HandleReplicateBatch);
  server.Register("SSYNC", HandleSsyncRequest);
  server.Register("REPCONN", HandleRepconn);
  server.Register("POST", HandlePriorityRep);
}

}  // namespace replicant::receiver
