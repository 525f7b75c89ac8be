// The SSYNC receiver session: Swift 2.30's ssync_receiver.Receiver, line by line.
#include "sync_backends/ssync/ssync_receiver.h"

#include <chrono>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "formats/swift_conf.h"
#include "diskfile/replication_lock.h"
#include "sync_backends/ssync/ssync_object_ops.h"
#include "sync_backends/ssync/ssync_protocol.h"

namespace replicant::sync::ssync {
namespace {

// More header lines than any object can carry (90 user metadata items at most).
constexpr size_t kMaxSubrequestHeaders = 1000;

// How Receiver.__call__ sorts a failure: what is logged and what the sender is told.
struct Failure {
  enum Kind { kDisconnect, kReadFailed, kTimeout, kLockTimeout, kHttp, kException } kind;
  int status = 0;
  std::string msg;
};

Failure Exception(std::string msg) { return {Failure::kException, 0, std::move(msg)}; }

// Python str.strip() of a latin-1 decoded header piece, limited to the ASCII range:
// stripping \x85/\xa0 as Python does would cut UTF-8 sequences we store verbatim.
std::string_view StripHeader(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

Result<std::pair<std::string, std::string>> HashSalt(const SsyncRequest& req) {
  if (!req.hash_path_prefix.empty() || !req.hash_path_suffix.empty()) {
    return std::make_pair(req.hash_path_prefix, req.hash_path_suffix);
  }
  static std::mutex mu;
  static std::map<std::string, std::pair<std::string, std::string>> cache;
  std::lock_guard<std::mutex> l(mu);
  if (auto it = cache.find(req.swift_dir); it != cache.end()) return it->second;
  auto conf = LoadSwiftConf(req.swift_dir);
  if (!conf.ok()) return conf.status();
  auto salt = std::make_pair(conf->hash_path_prefix, conf->hash_path_suffix);
  cache[req.swift_dir] = salt;
  return salt;
}

bool BadName(const std::string& s) {
  return s.empty() || s == "." || s == ".." || s.find('/') != std::string::npos ||
         s.find('\0') != std::string::npos;
}

class Receiver {
 public:
  Receiver(const SsyncRequest& req, net::ByteStream& body, net::ByteStream& out, PartitionStore store)
      : req_(req), body_(body), out_(out), store_(std::move(store)),
        who_(req.remote_addr + "/" + req.device + "/" + req.partition) {}

  Status Run();

 private:
  std::optional<Failure> ReadLine(const char* context, std::string* line, bool* eof);
  // Reads the line that opens a stage; a Failure unless it is `marker`.
  std::optional<Failure> ExpectStart(std::string_view marker, const char* context);
  std::optional<Failure> MissingCheck();
  std::optional<Failure> Updates();
  std::optional<Failure> ReadSubrequestHead(std::string_view first, SubRequest* sub);
  std::optional<Failure> Subrequest(std::string_view first_line, size_t* successes,
                                    size_t* failures);

  const SsyncRequest& req_;
  net::ByteStream& body_;
  net::ByteStream& out_;
  PartitionStore store_;
  std::string who_;
  size_t offered_ = 0, wanted_ = 0;
  // Set by the first 507 (device full): later subrequests are read past, not applied.
  std::optional<std::string> full_;
};

std::optional<Failure> Receiver::ReadLine(const char* context, std::string* line, bool* eof) {
  *eof = false;
  auto r = body_.ReadLine(req_.network_chunk_size);
  if (r.ok()) {
    *line = std::move(*r);
    return std::nullopt;
  }
  const Status& s = r.status();
  if (s.IsNotFound()) {
    *eof = true;
    return std::nullopt;
  }
  if (s.code() == Status::Code::kUnavailable) {
    return Failure{Failure::kTimeout, 408, SecondsText(req_.client_timeout) + ": " + context};
  }
  if (s.code() == Status::Code::kInvalidArgument) {
    return Exception(std::string(context) + ": " + s.message());
  }
  return Failure{Failure::kReadFailed, 0, std::string(context) + ": " + s.message()};
}

std::optional<Failure> Receiver::ExpectStart(std::string_view marker, const char* context) {
  std::string line;
  bool eof;
  if (auto f = ReadLine(context, &line, &eof)) return f;
  if (eof) return Failure{Failure::kDisconnect, 0, context};
  if (StripAscii(line) != marker) {
    return Exception("Looking for " + std::string(marker) + " got " +
                     PyBytesRepr((line + "\n").substr(0, 1024)));
  }
  return std::nullopt;
}

std::optional<Failure> Receiver::MissingCheck() {
  std::string line;
  bool eof;
  if (auto f = ExpectStart(kMissingCheckStart, "missing_check start")) return f;
  std::string wanted;
  for (;;) {
    if (auto f = ReadLine("missing_check line", &line, &eof)) return f;
    if (eof) return Failure{Failure::kDisconnect, 0, "missing_check line"};
    if (StripAscii(line) == kMissingCheckEnd) break;
    auto remote = DecodeMissing(line);
    if (!remote.ok()) return Exception(remote.status().message());
    ++offered_;
    LocalState local = CheckLocal(store_, remote->object_hash);
    if (auto want = EncodeWanted(*remote, local)) {
      if (wanted_++) wanted += "\r\n";
      wanted += *want;
    }
  }
  std::string msg = std::string(kMissingCheckStart) + "\r\n" + wanted + "\r\n" +
                    std::string(kMissingCheckEnd) + "\r\n";
  if (auto s = out_.Write(msg); !s.ok()) return Failure{Failure::kDisconnect, 0, s.message()};
  if (auto s = out_.Flush(); !s.ok()) return Failure{Failure::kDisconnect, 0, s.message()};
  return std::nullopt;
}

// The subrequest's line and headers (Swift's _get_subrequest), and the method and
// Content-Length rules they must follow.
std::optional<Failure> Receiver::ReadSubrequestHead(std::string_view first, SubRequest* sub) {
  size_t sp = first.find(' ');
  if (sp == std::string_view::npos) {
    return Exception("not enough values to unpack (expected 2, got 1): " + PyBytesRepr(first));
  }
  sub->method = std::string(first.substr(0, sp));
  sub->path = std::string(first.substr(sp + 1));
  std::string line;
  bool eof;
  for (size_t n = 0;; ++n) {
    if (auto f = ReadLine("updates line", &line, &eof)) return f;
    if (eof) return Exception("Got no headers for " + sub->method + " " + sub->path);
    std::string_view h = StripAscii(line);
    if (h.empty()) break;
    if (n >= kMaxSubrequestHeaders) {
      return Exception("more than " + std::to_string(kMaxSubrequestHeaders) +
                       " header lines for " + sub->method + " " + sub->path);
    }
    size_t colon = h.find(':');
    if (colon == std::string_view::npos) {
      return Exception("not enough values to unpack (expected 2, got 1): " + PyBytesRepr(h));
    }
    std::string name = LowerAscii(StripHeader(h.substr(0, colon)));
    std::string value(StripHeader(h.substr(colon + 1)));
    if (name == "content-length") {
      sub->content_length = ParsePyInt(value);
      if (!sub->content_length) {
        return Exception("invalid literal for int() with base 10: " + PyRepr(value));
      }
    }
    // ETag is checked, not stored under a second spelling; no-commit is EC-only.
    if (name != "etag" && name != "x-backend-no-commit") sub->replication_headers.push_back(name);
    sub->headers.Set(name, std::move(value));
  }
  if (sub->method == "DELETE" || sub->method == "POST") {
    if (sub->content_length && *sub->content_length != 0) {
      return Exception(sub->method + " subrequest with content-length " + sub->path);
    }
  } else if (sub->method == "PUT") {
    if (!sub->content_length) return Exception("No content-length sent for PUT " + sub->path);
    if (*sub->content_length < 0) {
      return Exception("negative content-length " + std::to_string(*sub->content_length) +
                       " for PUT " + sub->path);
    }
  } else {
    return Exception("Invalid subrequest method " + sub->method);
  }
  return std::nullopt;
}

std::optional<Failure> Receiver::Subrequest(std::string_view first, size_t* successes,
                                            size_t* failures) {
  SubRequest sub;
  if (auto f = ReadSubrequestHead(first, &sub)) return f;
  BodyReader body(body_, sub.method == "PUT" ? static_cast<uint64_t>(*sub.content_length) : 0,
                  req_.network_chunk_size, req_.client_timeout);
  SubResponse resp;
  if (full_) {
    // The device is full: the rest of the updates are read to keep the stream in step
    // (so the sender reads the final :ERROR: 507) and left with the sender.
    resp = SubResponse{507, *full_};
  } else if (Status p = ParseObjectPath(&sub); !p.ok()) {
    resp = SubResponse{400, p.message()};
  } else if (sub.method == "PUT") {
    auto r = ApplyPut(store_, sub, body);
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kUnavailable) {
        return Failure{Failure::kTimeout, 408,
                       SecondsText(req_.client_timeout) + ": updates content"};
      }
      return Failure{Failure::kReadFailed, 0,
                     "Early termination for PUT " + sub.path + ": " + r.status().message()};
    }
    resp = std::move(*r);
  } else if (sub.method == "POST") {
    resp = ApplyPost(store_, sub);
  } else {
    resp = ApplyDelete(store_, sub);
  }
  if ((resp.status >= 200 && resp.status < 300) || resp.status == 404) {
    ++*successes;
  } else if (full_) {
    ++*failures;  // already told; not counted towards the failure threshold
  } else if (resp.status == 507) {
    spdlog::error("{} device full: {} {}: {}", who_, sub.method, sub.path, resp.body);
    full_ = resp.body;
    ++*failures;
  } else {
    spdlog::warn("ssync subrequest failed with {}: {} /{}/{}{} ({})", resp.status, sub.method,
                 req_.device, req_.partition, sub.path, resp.body);
    ++*failures;
  }
  if (!full_ && *failures >= static_cast<size_t>(req_.replication_failure_threshold) &&
      (*successes == 0 ||
       static_cast<double>(*failures) / *successes > req_.replication_failure_ratio)) {
    return Exception("Too many " + std::to_string(*failures) + " failures to " +
                     std::to_string(*successes) + " successes");
  }
  // A subrequest refused before its body was read: the body still has to go.
  if (Status d = body.Drain(); !d.ok()) {
    if (d.code() == Status::Code::kUnavailable) {
      return Failure{Failure::kTimeout, 408, SecondsText(req_.client_timeout) + ": updates content"};
    }
    return Failure{Failure::kReadFailed, 0,
                   "Early termination for " + sub.method + " " + sub.path + ": " + d.message()};
  }
  return std::nullopt;
}

std::optional<Failure> Receiver::Updates() {
  std::string line;
  bool eof;
  if (auto f = ExpectStart(kUpdatesStart, "updates start")) return f;
  size_t successes = 0, failures = 0;
  for (;;) {
    if (auto f = ReadLine("updates line", &line, &eof)) return f;
    // Swift takes EOF here for the end of the updates; the sender is gone either way.
    if (eof) return Failure{Failure::kDisconnect, 0, "updates line"};
    std::string_view s = StripAscii(line);
    if (s == kUpdatesEnd) break;
    if (auto f = Subrequest(s, &successes, &failures)) return f;
  }
  if (full_) {
    // Swift's object server answers HTTPInsufficientStorage(drive=device).
    return Failure{Failure::kHttp, 507,
                   "<html><h1>Insufficient Storage</h1><p>There was not enough space to save "
                   "the resource. Drive: " + req_.device + "</p></html>"};
  }
  if (failures) {
    return Failure{Failure::kHttp, 500,
                   "ERROR: With :UPDATES: " + std::to_string(failures) + " failures to " +
                       std::to_string(successes) + " successes"};
  }
  std::string msg = std::string(kUpdatesStart) + "\r\n" + std::string(kUpdatesEnd) + "\r\n";
  if (auto s = out_.Write(msg); !s.ok()) return Failure{Failure::kDisconnect, 0, s.message()};
  if (auto s = out_.Flush(); !s.ok()) return Failure{Failure::kDisconnect, 0, s.message()};
  spdlog::debug("{} SSYNC done: {} offered, {} wanted, {} updates", who_, offered_, wanted_,
                successes);
  return std::nullopt;
}

Status Receiver::Run() {
  // Swift yields "\r\n" first so that the 200 and headers leave at once.
  if (auto s = out_.Write("\r\n"); !s.ok()) return s;
  if (auto s = out_.Flush(); !s.ok()) return s;
  std::optional<Failure> failure;
  auto start = std::chrono::steady_clock::now();
  auto part_lock = diskfile::ReplicationLock::Acquire(store_.where.dir(), "replication", 1,
                                            req_.replication_lock_timeout);
  if (!part_lock.ok()) {
    failure = Failure{Failure::kLockTimeout, 0, part_lock.status().message()};
  } else {
    std::optional<diskfile::ReplicationLock> dev_lock;
    if (req_.replication_concurrency_per_device > 0) {
      double left = req_.replication_lock_timeout -
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      auto l = diskfile::ReplicationLock::Acquire(store_.where.device_path(), "", req_.replication_concurrency_per_device,
                                        std::max(0.0, left));
      if (!l.ok()) failure = Failure{Failure::kLockTimeout, 0, l.status().message()};
      else dev_lock.emplace(std::move(*l));
    }
    if (!failure) failure = MissingCheck();
    if (!failure) failure = Updates();
  }
  if (!failure) return Status::OK();

  std::string line;
  switch (failure->kind) {
    case Failure::kDisconnect:
      spdlog::error("{} ssync client disconnected ({})", who_, failure->msg);
      return Status::IOError("ssync client disconnected: " + failure->msg);
    case Failure::kReadFailed:
      spdlog::error("{} read failed in ssync.Receiver: {}", who_, failure->msg);
      return Status::IOError("read failed: " + failure->msg);
    case Failure::kLockTimeout:
      spdlog::debug("{} SSYNC LOCK TIMEOUT: {}", who_, failure->msg);
      line = ErrorLine(0, failure->msg);
      break;
    case Failure::kTimeout:
      spdlog::error("{} TIMEOUT in ssync.Receiver: {}", who_, failure->msg);
      line = ErrorLine(408, failure->msg);
      break;
    case Failure::kHttp:
      spdlog::error("{} SSYNC failed: {} {}", who_, failure->status, failure->msg);
      line = ErrorLine(failure->status, failure->msg, /*bytes_body=*/true);
      break;
    case Failure::kException:
      spdlog::error("{} EXCEPTION in ssync.Receiver: {}", who_, failure->msg);
      line = ErrorLine(0, failure->msg);
      break;
  }
  // Best effort: the sender may already be gone.
  if (out_.Write(line).ok()) (void)out_.Flush();
  return Status::Unavailable("SSYNC " + who_ + ": " + line.substr(0, line.size() - 1));
}

}  // namespace

Status ValidateSsyncRequest(const SsyncRequest& req) {
  if (BadName(req.device) || BadName(req.partition)) {
    return Status::InvalidArgument("Invalid device or partition: /" + req.device + "/" + req.partition);
  }
  if (auto it = req.headers.find("x-backend-ssync-frag-index");
      it != req.headers.end() && !it->second.empty() && !ParsePyInt(it->second)) {
    return Status::InvalidArgument("Invalid X-Backend-Ssync-Frag-Index " + PyRepr(it->second));
  }
  return Status::OK();
}

Status HandleSsync(const SsyncRequest& req, net::ByteStream& body, net::ByteStream& response) {
  Status valid = ValidateSsyncRequest(req);
  auto salt = HashSalt(req);
  if (!valid.ok() || !salt.ok()) {
    const Status& bad = valid.ok() ? salt.status() : valid;
    spdlog::error("{}/{}/{} SSYNC refused: {}", req.remote_addr, req.device, req.partition,
                  bad.message());
    if (response.Write("\r\n").ok() &&
        response.Write(ErrorLine(valid.ok() ? 500 : 400, bad.message(), true)).ok()) {
      (void)response.Flush();
    }
    return bad;
  }
  PartitionStore store;
  store.where = {req.devices_dir, req.device, req.partition, req.policy_index};
  store.hash_prefix = salt->first;
  store.hash_suffix = salt->second;
  store.reclaim_age = req.reclaim_age;
  store.fallocate = req.fallocate;
  return Receiver(req, body, response, std::move(store)).Run();
}

}  // namespace replicant::sync::ssync
