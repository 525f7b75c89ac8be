// Request-side helpers of the SSYNC object operations: swob-like headers, object
// paths, PUT bodies, and the missing-check lookup (_check_local).
#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "diskfile/layout.h"
#include "diskfile/object_reader.h"
#include "diskfile/quarantine.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/timestamp.h"
#include "ring/hash_path.h"
#include "sync_backends/ssync/ssync_object_ops.h"
#include "sync_backends/ssync/ssync_protocol.h"

namespace replicant::sync::ssync {

bool SplitObjectName(std::string_view path, std::string* account, std::string* container,
                     std::string* object) {
  if (path.empty() || path[0] != '/') return false;
  size_t a = path.find('/', 1);
  size_t c = a == std::string_view::npos ? a : path.find('/', a + 1);
  if (c == std::string_view::npos || a == 1 || c == a + 1 || c + 1 >= path.size()) return false;
  *account = path.substr(1, a - 1);
  *container = path.substr(a + 1, c - a - 1);
  *object = path.substr(c + 1);
  return true;
}

std::string PartitionStore::HashDir(std::string_view hash) const {
  return diskfile::HashDirIn(where.dir(), hash);
}

LocalState CheckLocal(const PartitionStore& store, const std::string& object_hash) {
  LocalState local;
  std::string hash_dir = store.HashDir(object_hash);
  auto cleaned = diskfile::CleanupOnDiskFiles(hash_dir, store.reclaim_age, Timestamp::Now().seconds());
  if (!cleaned.ok()) {
    if (cleaned.status().code() == Status::Code::kInvalidArgument) {
      // A file where the hash dir should be: Swift quarantines it (ENOTDIR).
      auto q = diskfile::QuarantineHashDir(store.where.device_path(), hash_dir, store.where.policy_index);
      spdlog::error("Quarantined {} to {} because it is not a directory", hash_dir,
                    q.ok() ? *q : q.status().message());
    }
    return local;
  }
  if (cleaned->remaining.empty()) return local;
  auto obj = diskfile::OpenObject(hash_dir);
  if (!obj.ok()) {
    if (obj.status().IsCorruption()) {
      auto q = diskfile::QuarantineHashDir(store.where.device_path(), hash_dir, store.where.policy_index);
      spdlog::warn("Quarantined {} ({}): {}", hash_dir, obj.status().message(),
                   q.ok() ? *q : q.status().message());
    }
    return local;
  }
  // Swift opens the DiskFile named by the stored metadata: a name that does not
  // hash back to this dir finds nothing there.
  const std::string* name = obj->metadata.Get("name");
  std::string a, c, o;
  if (!name || !SplitObjectName(*name, &a, &c, &o)) return local;
  if (HashPathHex(store.hash_prefix, store.hash_suffix, a, c, o) != object_hash) return local;
  local.exists = true;
  if (obj->tombstone) {
    local.ts_data = obj->timestamp;
    return local;
  }
  local.ts_data = obj->data_timestamp;
  local.ts_meta = obj->timestamp;
  const std::string* ctt = obj->metadata.Get("Content-Type-Timestamp");
  auto ctype = ctt ? Timestamp::Parse(*ctt) : Result<Timestamp>(obj->data_timestamp);
  local.ts_ctype = ctype.ok() ? *ctype : obj->data_timestamp;
  return local;
}

// ---- HeaderEnv ----

std::string HeaderEnv::EnvKey(std::string_view name) {
  std::string key = "HTTP_";
  for (char c : name) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    key += c == '-' ? '_' : c;
  }
  if (key == "HTTP_CONTENT_LENGTH" || key == "HTTP_CONTENT_TYPE") return key.substr(5);
  return key;
}

void HeaderEnv::Set(std::string_view name, std::string value) {
  std::string key = EnvKey(name);
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

const std::string* HeaderEnv::Get(std::string_view name) const {
  std::string key = EnvKey(name);
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> HeaderEnv::Items() const {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string *cl = nullptr, *ct = nullptr;
  for (const auto& [k, v] : entries_) {
    if (k == "CONTENT_LENGTH") {
      cl = &v;
    } else if (k == "CONTENT_TYPE") {
      ct = &v;
    } else {
      std::string name = k.substr(5);
      for (char& c : name) {
        if (c == '_') c = '-';
      }
      out.emplace_back(TitleAscii(name), v);
    }
  }
  if (cl) out.emplace_back("Content-Length", *cl);
  if (ct) out.emplace_back("Content-Type", *ct);
  return out;
}

// ---- paths ----

Status ParseObjectPath(SubRequest* req) {
  const std::string& p = req->path;
  if (p.empty() || p[0] != '/') {
    return Status::InvalidArgument("subrequest path must start with '/': " + PyBytesRepr(p));
  }
  // Swift's sender quotes these; raw, swob's urlparse would cut the path short.
  if (p.find_first_of("?#;") != std::string::npos) {
    return Status::InvalidArgument("unquoted '?', '#' or ';' in subrequest path " + PyBytesRepr(p));
  }
  std::string path = UrlUnquote(p);
  if (!IsUtf8NoNul(path)) {
    return Status::InvalidArgument("Invalid UTF8 or contains NULL: " + PyBytesRepr(path));
  }
  if (!SplitObjectName(path, &req->account, &req->container, &req->object)) {
    return Status::InvalidArgument("invalid object path " + PyBytesRepr(path));
  }
  return Status::OK();
}

// ---- BodyReader ----

Result<std::string_view> BodyReader::Next() {
  if (left_ == 0) return std::string_view();
  size_t want = left_ < chunk_ ? static_cast<size_t>(left_) : chunk_;
  buf_.resize(want);
  if (piece_left_ == 0) {
    piece_left_ = want;
    waited_ = 0;
  }
  // Only time in Read counts: our own disk writes between pieces are not the sender's.
  auto start = std::chrono::steady_clock::now();
  auto got = in_.Read(buf_.data(), want);
  waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!got.ok()) return got.status();
  if (*got == 0) {
    return Status::IOError("early end of stream with " + std::to_string(left_) +
                           " body bytes still expected");
  }
  left_ -= *got;
  piece_left_ -= std::min(piece_left_, static_cast<size_t>(*got));
  if (chunk_timeout_ > 0 && piece_left_ > 0 && waited_ > chunk_timeout_) {
    return Status::Unavailable("body too slow: " + std::to_string(piece_left_) +
                               " bytes of a chunk still missing after " +
                               SecondsText(chunk_timeout_));
  }
  return std::string_view(buf_.data(), *got);
}

Status BodyReader::Drain() {
  while (left_ > 0) {
    auto piece = Next();
    if (!piece.ok()) return piece.status();
  }
  return Status::OK();
}

}  // namespace replicant::sync::ssync
