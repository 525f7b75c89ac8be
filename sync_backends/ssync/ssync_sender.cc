#include "sync_backends/ssync/ssync_sender.h"

#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "base/text.h"
#include "diskfile/object_reader.h"
#include "diskfile/quarantine.h"
#include "diskfile/yield_hashes.h"
#include "diskfile/timestamp.h"
#include "sync_backends/ssync/ssync_object_ops.h"
#include "sync_backends/ssync/ssync_protocol.h"
#include "diskfile/layout.h"

namespace replicant::sync::ssync {
namespace {

bool IsHash(std::string_view h) { return h.size() == 32 && IsLowerHex(h); }

Status Unexpected(std::string_view line) {
  std::string msg = "Unexpected response: " + PyRepr(line.substr(0, 1024));
  // ":ERROR: 507 ...": the receiving device is full (Swift's HTTPInsufficientStorage).
  if (line.rfind(std::string(kErrorPrefix) + " 507 ", 0) == 0) return Status::NoSpace(msg);
  return Status::IOError(msg);
}

// The receiver's answer lines; EOF is Swift's "Early disconnect".
Result<std::string> ReadResponseLine(net::ByteStream& response, size_t max) {
  auto line = response.ReadLine(max);
  if (!line.ok()) {
    if (line.status().IsNotFound()) return Status::IOError("Early disconnect");
    return line.status();
  }
  return std::string(StripAscii(*line));
}

}  // namespace

Result<std::map<std::string, std::string>> SsyncSender::Run(net::ByteStream& request,
                                                            net::ByteStream& response) {
  if (Status s = MissingCheck(request, response); !s.ok()) return s;
  if (check_objs_) {
    // Swift's sender sends no updates here: what the receiver wants is not in sync.
    for (const auto& [hash, want] : send_) available_.erase(hash);
    return available_;
  }
  if (Status s = Updates(request, response); !s.ok()) return s;
  return available_;
}

Status SsyncSender::MissingCheck(net::ByteStream& request, net::ByteStream& response) {
  if (Status s = request.Write(std::string(kMissingCheckStart) + "\r\n"); !s.ok()) {
    return s.WithContext("missing_check start");
  }
  double now = Timestamp::Now().seconds();
  for (const std::string& suffix : suffixes_) {
    auto entries = diskfile::YieldHashes(job_.path + "/" + suffix, opts_.reclaim_age, now);
    if (!entries.ok()) return entries.status().WithContext("yield_hashes " + suffix);
    for (const diskfile::HashTimestamps& h : *entries) {
      if (check_objs_ && !check_objs_->count(h.hash)) continue;
      // The newest file offered: a handoff may delete the object's files up to it.
      available_[h.hash] = (h.ts_meta && *h.ts_meta > h.ts_data ? *h.ts_meta : h.ts_data).internal();
      std::string line = EncodeMissing(h.hash, h.ts_data, h.ts_meta, h.ts_ctype, h.durable);
      if (Status s = request.Write(line + "\r\n"); !s.ok()) {
        return s.WithContext("missing_check send line: " + std::to_string(stats_.offered) +
                             " lines sent");
      }
      ++stats_.offered;
    }
  }
  if (Status s = request.Write(std::string(kMissingCheckEnd) + "\r\n"); !s.ok()) {
    return s.WithContext("missing_check end");
  }
  if (Status s = request.Flush(); !s.ok()) return s.WithContext("missing_check end");

  if (Status s = ExpectLine(response, kMissingCheckStart); !s.ok()) return s;
  std::map<std::string, size_t> wanted_at;  // hash -> its place in send_
  for (;;) {
    auto line = ReadResponseLine(response, opts_.network_chunk_size);
    if (!line.ok()) return line.status().WithContext("missing_check line wait");
    if (*line == kMissingCheckEnd) break;
    if (line->empty()) continue;
    std::string_view l = *line;
    size_t sp = l.find_first_of(" \t");
    std::string hash = UrlUnquote(l.substr(0, sp));
    if (!IsHash(hash)) return Unexpected(l);
    // A hash we did not offer may lie in a suffix we were not asked to sync.
    if (!available_.count(hash)) {
      spdlog::warn("ssync receiver asked for {}, which was not offered; ignored", hash);
      continue;
    }
    Wanted w = DecodeWanted(sp == std::string_view::npos ? std::string_view() : l.substr(sp));
    // Swift's send_map is a dict: a hash asked for again replaces its want in place, so
    // a receiver repeating a line neither gets the object twice nor grows our memory.
    auto [at, fresh] = wanted_at.try_emplace(hash, send_.size());
    if (!fresh) {
      send_[at->second].second = Want{w.data, w.meta};
      continue;
    }
    send_.emplace_back(std::move(hash), Want{w.data, w.meta});
  }
  stats_.wanted = send_.size();
  return Status::OK();
}

Status SsyncSender::ExpectLine(net::ByteStream& response, std::string_view marker) {
  for (;;) {
    auto line = ReadResponseLine(response, opts_.network_chunk_size);
    if (!line.ok()) return line.status().WithContext(std::string(marker) + " wait");
    if (*line == marker) return Status::OK();
    if (!line->empty()) return Unexpected(*line);
  }
}

Status SsyncSender::Updates(net::ByteStream& request, net::ByteStream& response) {
  if (Status s = request.Write(std::string(kUpdatesStart) + "\r\n"); !s.ok()) {
    return s.WithContext("updates start");
  }
  for (const auto& [hash, want] : send_) {
    if (Status s = SendOne(request, hash, want); !s.ok()) return s;
  }
  if (Status s = request.Write(std::string(kUpdatesEnd) + "\r\n"); !s.ok()) {
    return s.WithContext("updates end");
  }
  if (Status s = request.Flush(); !s.ok()) return s.WithContext("updates end");
  if (Status s = ExpectLine(response, kUpdatesStart); !s.ok()) return s;
  for (;;) {
    auto line = ReadResponseLine(response, opts_.network_chunk_size);
    if (!line.ok()) return line.status().WithContext("updates line wait");
    if (*line == kUpdatesEnd) return Status::OK();
    if (!line->empty()) return Unexpected(*line);
  }
}

Status SsyncSender::SendOne(net::ByteStream& request, const std::string& hash, const Want& want) {
  std::string hash_dir = job_.path + "/" + hash.substr(29) + "/" + hash;
  auto obj = diskfile::OpenObject(hash_dir);
  if (!obj.ok()) {
    // Gone since the missing check, or corrupt: there is no partial state on the
    // receiver, so skip it (as Swift does for DiskFileError), and never report it in
    // sync. Any other error (EIO, EMFILE) is not the object's fault: the session fails
    // and the files stay.
    available_.erase(hash);
    if (obj.status().IsCorruption()) {
      auto q = diskfile::QuarantineHashDir(diskfile::DevicePathOfDataDir(job_.obj_path), hash_dir,
                                           job_.policy_index);
      spdlog::warn("Quarantined {} ({}): {}", hash_dir, obj.status().message(),
                   q.ok() ? *q : q.status().message());
    } else if (!obj.status().IsNotFound()) {
      return obj.status().WithContext("send_put");
    }
    return Status::OK();
  }
  const std::string* name = obj->metadata.Get("name");
  std::string a, c, o;
  if (!name || !SplitObjectName(*name, &a, &c, &o)) {
    available_.erase(hash);  // not sent, so never in sync
    return Status::OK();
  }
  std::string url_path = UrlQuote(*name);
  if (obj->tombstone) {
    if (!want.data) return Status::OK();
    ++stats_.deletes;
    return SendSubrequest(request, "DELETE", url_path, {{"X-Timestamp", obj->timestamp.internal()}});
  }
  if (want.data) {
    std::map<std::string, std::string> headers{{"Content-Length", std::to_string(obj->content_length)}};
    for (const auto& [k, v] : obj->datafile_metadata) {
      if (k != "name" && k != "Content-Length") headers[k] = v;
    }
    if (Status s = SendSubrequest(request, "PUT", url_path, headers); !s.ok()) return s;
    if (Status s = SendBody(request, obj->data_fd.get(), obj->content_length); !s.ok()) return s;
    ++stats_.puts;
  }
  if (want.meta && obj->data_timestamp != obj->timestamp && obj->metafile_metadata) {
    std::map<std::string, std::string> headers(obj->metafile_metadata->begin(),
                                               obj->metafile_metadata->end());
    if (Status s = SendSubrequest(request, "POST", url_path, headers); !s.ok()) return s;
    ++stats_.posts;
  }
  return Status::OK();
}

Status SsyncSender::SendSubrequest(net::ByteStream& request, const std::string& method,
                                   const std::string& path,
                                   const std::map<std::string, std::string>& headers) {
  if (Status s = opts_.throttle.Files(1); !s.ok()) {
    return s.WithContext("send_" + LowerAscii(method));
  }
  // Swift sends the headers sorted by name (std::map's byte order is code point order).
  std::string msg = method + " " + path + "\r\n";
  for (const auto& [k, v] : headers) msg += k + ": " + v + "\r\n";
  msg += "\r\n";
  if (Status s = request.Write(msg); !s.ok()) return s.WithContext("send_" + LowerAscii(method));
  return Status::OK();
}

Status SsyncSender::SendBody(net::ByteStream& request, int fd, uint64_t content_length) {
  std::string buf(opts_.disk_chunk_size ? opts_.disk_chunk_size : 65536, '\0');
  uint64_t sent = 0;
  off_t off = 0;
  for (;;) {
    ssize_t n = pread(fd, buf.data(), buf.size(), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read object body", errno);
    }
    if (n == 0) break;
    off += n;
    sent += static_cast<uint64_t>(n);
    if (sent > content_length) break;  // grew under us: never send more than announced
    if (Status s = opts_.throttle.Bytes(static_cast<uint64_t>(n)); !s.ok()) {
      return s.WithContext("send_put chunk");
    }
    if (Status s = request.Write(std::string_view(buf.data(), static_cast<size_t>(n))); !s.ok()) {
      return s.WithContext("send_put chunk");
    }
  }
  stats_.bytes += sent;
  // The receiver may now hold a partial body: only ending the session keeps it from
  // committing it (Swift has no other way to signal a bad PUT mid-stream either).
  if (sent != content_length) {
    return Status::IOError("Sent data length does not match content-length");
  }
  return Status::OK();
}

}  // namespace replicant::sync::ssync
