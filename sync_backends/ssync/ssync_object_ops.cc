// PUT / POST / DELETE of replication subrequests, as swift/obj/server.py runs them.
#include "sync_backends/ssync/ssync_object_ops.h"

#include <cmath>

#include <spdlog/spdlog.h>

#include "diskfile/object_writer.h"
#include "diskfile/object_reader.h"
#include "diskfile/quarantine.h"
#include "diskfile/timestamp.h"
#include "diskfile/object_metadata.h"
#include "ring/hash_path.h"

namespace replicant::sync::ssync {
namespace {

using diskfile::Metadata;

// swift.common.constraints defaults (swift.conf [swift-constraints] is not read).
constexpr int64_t kMaxFileSize = 5368709122;
constexpr size_t kMaxObjectNameLength = 1024;
constexpr size_t kMaxHeaderSize = 8192;
constexpr size_t kMaxMetaNameLength = 128;
constexpr size_t kMaxMetaValueLength = 256;
constexpr size_t kMaxMetaCount = 90;
constexpr size_t kMaxMetaOverallSize = 4096;

SubResponse Resp(int status, std::string body = {}) { return SubResponse{status, std::move(body)}; }

// The object server's answer to a failed write: 507 for a full device
// (DiskFileNoSpace -> HTTPInsufficientStorage), 500 otherwise.
SubResponse WriteFailed(const Status& s) { return Resp(s.IsNoSpace() ? 507 : 500, s.message()); }

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && LowerAscii(s.substr(0, prefix.size())) == prefix;
}
bool IsUserMeta(std::string_view k) { return k.size() > 14 && StartsWithNoCase(k, "x-object-meta-"); }
bool IsSysMeta(std::string_view k) { return k.size() > 17 && StartsWithNoCase(k, "x-object-sysmeta-"); }
bool IsTransientSysmeta(std::string_view k) {
  return k.size() > 27 && StartsWithNoCase(k, "x-object-transient-sysmeta-");
}

std::string ObjectName(const SubRequest& req) {
  return "/" + req.account + "/" + req.container + "/" + req.object;
}

std::string HashDirOf(const PartitionStore& store, const SubRequest& req) {
  return store.HashDir(HashPathHex(store.hash_prefix, store.hash_suffix, req.account,
                                   req.container, req.object));
}

// valid_timestamp(request)
Result<Timestamp> RequestTimestamp(const SubRequest& req) {
  const std::string* x = req.headers.Get("x-timestamp");
  if (!x) return Status::InvalidArgument("Missing X-Timestamp header");
  auto ts = Timestamp::Parse(*x);
  if (!ts.ok()) return Status::InvalidArgument("Invalid X-Timestamp header");
  return ts;
}

// What DiskFile.open / read_metadata finds for the request's object.
struct Existing {
  enum Kind { kNone, kData, kTombstone } kind = kNone;
  diskfile::OpenedObject obj;
  bool collision = false;  // a .data whose stored name is another object's
};

Result<Existing> OpenExisting(const PartitionStore& store, const std::string& hash_dir,
                              const std::string& name) {
  Existing e;
  auto obj = diskfile::OpenObject(hash_dir);
  if (!obj.ok()) {
    if (obj.status().IsNotFound()) return e;
    if (obj.status().IsCorruption()) {
      auto q = diskfile::QuarantineHashDir(store.where.device_path(), hash_dir, store.where.policy_index);
      spdlog::warn("Quarantined {} ({}): {}", hash_dir, obj.status().message(),
                   q.ok() ? *q : q.status().message());
      return e;
    }
    return obj.status();
  }
  e.obj = std::move(*obj);
  e.kind = e.obj.tombstone ? Existing::kTombstone : Existing::kData;
  if (e.kind == Existing::kData) {
    const std::string* stored = e.obj.datafile_metadata.Get("name");
    e.collision = stored && *stored != name;
  }
  return e;
}

Result<std::string> WriteFile(const PartitionStore& store, const std::string& hash_dir,
                              diskfile::ObjectFileType type, Metadata md) {
  diskfile::WriterOptions wo;
  wo.policy_index = store.where.policy_index;
  wo.reclaim_age = store.reclaim_age;
  wo.fallocate = store.fallocate;
  auto w = diskfile::ObjectWriter::Create(store.where.device_path(), hash_dir, wo);
  if (!w.ok()) return w.status();
  return (*w)->Put(type, std::move(md));
}

// The object server's metadata copy: meta headers in request order, then every
// header named by X-Backend-Replication-Headers (title-cased) plus allowed_headers.
void CopyRequestHeaders(const SubRequest& req, bool sysmeta, const std::vector<std::string>& extra,
                        Metadata* md) {
  for (const auto& [k, v] : req.headers.Items()) {
    if (IsUserMeta(k) || (sysmeta && IsSysMeta(k)) || IsTransientSysmeta(k)) md->Set(k, v);
  }
  for (const std::string& h : req.replication_headers) {
    if (const std::string* v = req.headers.Get(h)) md->Set(TitleAscii(h), *v);
  }
  for (const std::string& h : extra) {
    if (const std::string* v = req.headers.Get(h)) md->Set(TitleAscii(h), *v);
  }
}

// check_metadata(req, 'object'): limits on headers and on X-Object-Meta-*.
std::optional<std::string> CheckMetadata(const SubRequest& req) {
  size_t count = 0, size = 0;
  for (const auto& [k, v] : req.headers.Items()) {
    if (v.size() > kMaxHeaderSize) return "Header value too long: " + k.substr(0, kMaxMetaNameLength);
    if (!StartsWithNoCase(k, "x-object-meta-")) continue;
    std::string_view key = std::string_view(k).substr(14);
    if (key.empty()) return "Metadata name cannot be empty";
    ++count;
    size += key.size() + v.size();
    if (key.size() > kMaxMetaNameLength) return "Metadata name too long: " + k;
    if (v.size() > kMaxMetaValueLength) return "Metadata value longer than 256: " + k;
    if (count > kMaxMetaCount) return "Too many metadata items; max 90";
    if (size > kMaxMetaOverallSize) return "Total metadata too large; max 4096";
  }
  return std::nullopt;
}

}  // namespace

Result<SubResponse> ApplyPut(const PartitionStore& store, const SubRequest& req,
                             BodyReader& body) {
  auto ts = RequestTimestamp(req);
  if (!ts.ok()) return Resp(400, ts.status().message());
  // check_object_creation
  int64_t fsize = req.content_length.value_or(0);
  if (fsize < 0) return Resp(400, "Invalid Content-Length header value");
  if (fsize > kMaxFileSize) return Resp(413, "Your request is too large.");
  if (req.object.size() > kMaxObjectNameLength) return Resp(400, "Object name too long");
  const std::string* ctype = req.headers.Get("content-type");
  if (!ctype) return Resp(400, "No content type");
  SubRequest r = req;  // check_delete_headers may rewrite X-Delete-After
  std::vector<std::string> extra;
  if (const std::string* after = r.headers.Get("x-delete-after")) {
    auto secs = ParsePyInt(*after);
    if (!secs) return Resp(400, "Non-integer X-Delete-After");
    double at = std::min(std::max(0.0, ts->seconds() + static_cast<double>(*secs)), 9999999999.0);
    if (std::floor(at) <= ts->seconds()) return Resp(400, "X-Delete-After in past");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%010lld", static_cast<long long>(at));
    r.headers.Set("x-delete-at", buf);
    // del headers['x-delete-after'] cannot be expressed on HeaderEnv; it is not a
    // meta header, and dropping it from the replication list keeps it off disk.
    std::erase(r.replication_headers, std::string("x-delete-after"));
    extra.push_back("x-delete-at");  // reaches the metadata through allowed_headers
  }
  if (const std::string* at = r.headers.Get("x-delete-at")) {
    if (!ParsePyInt(*at)) return Resp(400, "Non-integer X-Delete-At");
  }
  if (!IsUtf8NoNul(*r.headers.Get("content-type"))) {
    return Resp(400, "Invalid Content-Type");
  }
  if (auto bad = CheckMetadata(r)) return Resp(400, *bad);

  std::string name = ObjectName(r);
  std::string hash_dir = HashDirOf(store, r);
  auto existing = OpenExisting(store, hash_dir, name);
  if (!existing.ok()) return Resp(500, existing.status().message());
  if (existing->collision) return Resp(403, "Client path does not match path stored in object");
  Timestamp orig;
  if (existing->kind == Existing::kData) orig = existing->obj.data_timestamp;
  if (existing->kind == Existing::kTombstone) orig = existing->obj.timestamp;
  if (existing->kind != Existing::kNone && orig >= *ts) {
    return Resp(409, "X-Backend-Timestamp: " + orig.internal());
  }

  diskfile::WriterOptions wo;
  wo.policy_index = store.where.policy_index;
  wo.reclaim_age = store.reclaim_age;
  wo.fallocate = store.fallocate;
  wo.size = static_cast<uint64_t>(fsize);  // preallocated: a full device fails here
  auto writer = diskfile::ObjectWriter::Create(store.where.device_path(), hash_dir, wo);
  if (!writer.ok()) return WriteFailed(writer.status());
  Status write_error;
  for (;;) {
    auto piece = body.Next();
    if (!piece.ok()) return piece.status();  // the session is broken; the writer is dropped
    if (piece->empty()) break;
    if (write_error.ok()) write_error = (*writer)->Write(*piece);
  }
  if (!write_error.ok()) return Resp(507, write_error.message());
  std::string etag = (*writer)->etag();
  if (const std::string* sent = r.headers.Get("etag")) {
    std::string_view e = *sent;
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    if (!e.empty() && e != etag) return Resp(422, "ETag mismatch");
  }
  Metadata md;
  md.Set("X-Timestamp", ts->internal());
  md.Set("Content-Type", *r.headers.Get("content-type"));
  md.Set("Content-Length", std::to_string((*writer)->bytes_written()));
  md.Set("ETag", etag);
  CopyRequestHeaders(r, /*sysmeta=*/true, extra, &md);
  md.Set("name", name);
  auto put = (*writer)->Put(diskfile::ObjectFileType::kData, std::move(md));
  if (!put.ok()) return WriteFailed(put.status());
  return Resp(201);
}

SubResponse ApplyPost(const PartitionStore& store, const SubRequest& req) {
  auto ts = RequestTimestamp(req);
  if (!ts.ok()) return Resp(400, ts.status().message());
  const std::string* delete_at = req.headers.Get("x-delete-at");
  if (delete_at && !delete_at->empty()) {
    auto at = ParsePyInt(*delete_at);
    if (!at) return Resp(500, "invalid X-Delete-At");
    if (*at && static_cast<double>(*at) < ts->seconds()) return Resp(400, "X-Delete-At in past");
  }
  std::string name = ObjectName(req);
  std::string hash_dir = HashDirOf(store, req);
  auto existing = OpenExisting(store, hash_dir, name);
  if (!existing.ok()) return Resp(500, existing.status().message());
  if (existing->kind != Existing::kData) return Resp(404);
  if (existing->collision) return Resp(403, "Client path does not match path stored in object");
  const diskfile::OpenedObject& obj = existing->obj;

  Timestamp orig = obj.timestamp;
  Timestamp orig_ctype = obj.data_timestamp;
  if (const std::string* t = obj.metadata.Get("Content-Type-Timestamp")) {
    auto parsed = Timestamp::Parse(*t);
    if (!parsed.ok()) return Resp(500, "bad stored Content-Type-Timestamp");
    orig_ctype = *parsed;
  }
  const std::string* req_ctype = req.headers.Get("content-type");
  Timestamp req_ctype_ts;
  if (req_ctype && !req_ctype->empty()) {
    const std::string* t = req.headers.Get("content-type-timestamp");
    auto parsed = t ? Timestamp::Parse(*t) : Result<Timestamp>(*ts);
    if (!parsed.ok()) return Resp(500, "invalid Content-Type-Timestamp");
    req_ctype_ts = *parsed;
  }
  if (orig >= *ts && orig_ctype >= req_ctype_ts) {
    return Resp(409, "X-Backend-Timestamp: " + orig.internal());
  }
  Metadata md;
  if (*ts > orig) {
    md.Set("X-Timestamp", ts->internal());
    CopyRequestHeaders(req, /*sysmeta=*/false, {}, &md);
  } else if (obj.metafile_metadata) {
    md = *obj.metafile_metadata;  // only the content-type may change
  }
  if (req_ctype_ts > orig_ctype) {
    md.Set("Content-Type", *req_ctype);
    md.Set("Content-Type-Timestamp", req_ctype_ts.internal());
  } else if (orig_ctype != obj.data_timestamp) {
    md.Set("Content-Type", obj.metadata.GetOr("Content-Type", ""));
    md.Set("Content-Type-Timestamp", orig_ctype.internal());
  }
  md.Set("name", name);
  auto put = WriteFile(store, hash_dir, diskfile::ObjectFileType::kMeta, std::move(md));
  if (!put.ok()) return WriteFailed(put.status());
  return Resp(202);
}

SubResponse ApplyDelete(const PartitionStore& store, const SubRequest& req) {
  auto ts = RequestTimestamp(req);
  if (!ts.ok()) return Resp(400, ts.status().message());
  std::string name = ObjectName(req);
  std::string hash_dir = HashDirOf(store, req);
  auto existing = OpenExisting(store, hash_dir, name);
  if (!existing.ok()) return Resp(500, existing.status().message());
  if (existing->collision) return Resp(403, "Client path does not match path stored in object");
  const diskfile::OpenedObject& obj = existing->obj;
  Timestamp orig;
  bool have_orig = false;
  int status = 404;
  std::optional<int64_t> orig_delete_at;
  if (existing->kind == Existing::kData) {
    orig = obj.data_timestamp;
    have_orig = true;
    orig_delete_at = obj.delete_at;
    // read_metadata(current_time=req_timestamp) calls an expired object gone.
    bool expired = obj.delete_at && static_cast<double>(*obj.delete_at) <= ts->seconds();
    status = expired ? 404 : orig < *ts ? 204 : 409;
  } else if (existing->kind == Existing::kTombstone) {
    orig = obj.timestamp;
    have_orig = true;
  }
  if (const std::string* ida = req.headers.Get("x-if-delete-at")) {
    auto want = Timestamp::Parse(*ida);
    if (!want.ok()) return Resp(400, "Bad X-If-Delete-At header value");
    if (!have_orig || (orig.raw() == 0 && orig.offset() == 0)) return Resp(404);
    if (orig >= *ts) return Resp(409);
    auto have = Timestamp::FromSeconds(static_cast<double>(orig_delete_at.value_or(0)));
    if (!have.ok() || *have != *want) {
      return Resp(412, "X-If-Delete-At and X-Delete-At do not match");
    }
    status = 204;
  }
  if (!have_orig || orig < *ts) {
    Metadata md{{"X-Timestamp", ts->internal()}, {"name", name}};
    auto put = WriteFile(store, hash_dir, diskfile::ObjectFileType::kTombstone, std::move(md));
    if (!put.ok()) return WriteFailed(put.status());
  }
  return Resp(status);
}

}  // namespace replicant::sync::ssync
