// SsyncSender: the protocol logic of Swift 2.30's ssync_sender.Sender for one session.
//
// Given an established SSYNC request (the caller did the connect and HTTP exchange),
// the sender offers every object of the suffixes to sync (yield_hashes, with cleanup
// of obsolete files as Swift does), reads which ones the receiver wants, then sends
// them: PUT with the whole .data body and its metadata, POST with the .meta's metadata,
// DELETE for tombstones. It verifies that each body sent matches its Content-Length
// and reads the receiver's final ":UPDATES:" answer; any ":ERROR:" line fails the
// session. On success it returns every object it offered (Swift's `candidates`,
// hash -> ts_data.internal): each one is now in sync on the receiver.
//
// With `check_objs` (Swift's remote_check_objs) it offers only those objects, sends
// no updates (the session ends after the missing check, as Swift's does) and returns
// the offered objects the receiver did not want: those it holds in sync.
//
// Framing and sockets are the caller's: each Write() on `request` must become one
// chunk, `response` yields the de-chunked response body. Not thread-safe; one
// SsyncSender per session.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "net/byte_stream.h"
#include "sync_backends/rate_limit.h"
#include "sync_backends/sync_backend.h"

namespace replicant::sync::ssync {

struct SenderOptions {
  size_t network_chunk_size = 65536;  // longest response line accepted
  size_t disk_chunk_size = 65536;     // body pieces read from disk, one chunk each
  int64_t reclaim_age = 604800;       // for yield_hashes' cleanup
  // bytes_per_second per body chunk, files_per_second per PUT/POST/DELETE subrequest;
  // a cancelled throttle (the replicator stopping) fails the session.
  Throttle throttle;
};

struct SenderStats {
  size_t offered = 0, wanted = 0, puts = 0, posts = 0, deletes = 0;
  uint64_t bytes = 0;
};

class SsyncSender {
 public:
  SsyncSender(SenderOptions options, const SyncJob& job, std::vector<std::string> suffixes,
              const std::set<std::string>* check_objs = nullptr)
      : opts_(options), job_(job), suffixes_(std::move(suffixes)), check_objs_(check_objs) {}

  // hash -> ts_data.internal of every object offered (checking: of those in sync),
  // once the receiver has confirmed the session; an error names the step that failed.
  Result<std::map<std::string, std::string>> Run(net::ByteStream& request, net::ByteStream& response);
  const SenderStats& stats() const { return stats_; }

 private:
  struct Want {
    bool data = false, meta = false;
  };
  Status MissingCheck(net::ByteStream& request, net::ByteStream& response);
  Status Updates(net::ByteStream& request, net::ByteStream& response);
  Status SendOne(net::ByteStream& request, const std::string& hash, const Want& want);
  Status SendSubrequest(net::ByteStream& request, const std::string& method, const std::string& path,
                        const std::map<std::string, std::string>& headers);
  Status SendBody(net::ByteStream& request, int fd, uint64_t content_length);
  // Skips blank lines up to `marker`; anything else (":ERROR: ...") is an error.
  Status ExpectLine(net::ByteStream& response, std::string_view marker);

  SenderOptions opts_;
  const SyncJob& job_;
  std::vector<std::string> suffixes_;
  const std::set<std::string>* check_objs_;  // null: a full sync
  std::map<std::string, std::string> available_;     // hash -> newest file ts offered
  std::vector<std::pair<std::string, Want>> send_;   // in the receiver's order
  SenderStats stats_;
};

}  // namespace replicant::sync::ssync
