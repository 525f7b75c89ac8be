// The object-server half of an SSYNC receiver: what Swift 2.30's object server does
// with the missing-check lookups and the PUT/POST/DELETE subrequests a Receiver
// routes to it (swift/obj/server.py with X-Backend-Replication: True), on disk.
//
// Swift's receiver turns every subrequest into a swob.Request and runs it through the
// object server app; the metadata stored is whatever that app builds from the request
// headers. SubRequest models the parts of that which decide the result: headers keyed
// as a WSGI environ keys them ("x-foo_bar" and "X-Foo-Bar" are one header), in the
// order they were set, and the X-Backend-Replication-Headers list. The functions here
// build the same metadata dicts (same keys, order and values) and write them with
// ObjectWriter (temp file, fsync, rename: a failed or abandoned write leaves nothing
// in the hash dir).
//
// Deliberate difference: Swift 2.30 on py3 stores non-ASCII header bytes re-encoded
// (latin-1 -> UTF-8 once more on every ssync hop); we store the bytes received.
//
// Thread-safe: no shared state; the caller holds the partition's replication lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "diskfile/fallocate.h"
#include "diskfile/layout.h"
#include "net/byte_stream.h"
#include "sync_backends/ssync/ssync_protocol.h"

namespace replicant::sync::ssync {

// One device + partition + policy of the receiving node.
struct PartitionStore {
  diskfile::PartitionLocation where;
  std::string hash_prefix, hash_suffix;
  int64_t reclaim_age = 604800;
  diskfile::FallocateConfig fallocate;  // the server's fallocate_reserve / disable_fallocate

  std::string HashDir(std::string_view hash) const;
};

// Swift's _check_local: cleans up the hash dir, opens the object as DiskFile.open
// would (a corrupt one is quarantined and counts as absent).
LocalState CheckLocal(const PartitionStore& store, const std::string& object_hash);

// Request headers as swob's HeaderEnvironProxy holds them.
class HeaderEnv {
 public:
  // headers[name] = value: keyed like the WSGI environ key of name.
  void Set(std::string_view name, std::string value);
  const std::string* Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name) != nullptr; }
  // headers.items(): HTTP_* keys in insertion order (names rebuilt from the environ key
  // and title-cased), then Content-Length, then Content-Type.
  std::vector<std::pair<std::string, std::string>> Items() const;
  size_t size() const { return entries_.size(); }

 private:
  static std::string EnvKey(std::string_view name);
  std::vector<std::pair<std::string, std::string>> entries_;  // (environ key, value)
};

struct SubRequest {
  std::string method;  // PUT, POST or DELETE
  std::string path;    // "/a/c/o" as received (quoted)
  std::string account, container, object;  // unquoted
  HeaderEnv headers;
  std::vector<std::string> replication_headers;  // lower-cased names, in arrival order
  std::optional<int64_t> content_length;
};

// Swift's split_path(name, 3, 3, True) of a raw "/a/c/o": all three non-empty.
bool SplitObjectName(std::string_view path, std::string* account, std::string* container,
                     std::string* object);

// Splits and unquotes "/a/c/o" (object may hold '/'); InvalidArgument when it is not
// a valid object path (Swift's split_path + check_utf8 would answer 400/412).
Status ParseObjectPath(SubRequest* req);

struct SubResponse {
  int status = 500;
  std::string body;  // for the log
};

// Reads a PUT body of a known length from the session stream in bounded chunks.
// With a chunk_timeout, as Swift's MessageTimeout around each chunk read ("updates
// content"), the time spent waiting for each chunk_size bytes is bounded too: a sender
// that drips a byte just within each read's timeout is cut off after about
// chunk_timeout (Unavailable), instead of holding the session and its locks.
class BodyReader {
 public:
  BodyReader(net::ByteStream& in, uint64_t length, size_t chunk_size, double chunk_timeout = 0)
      : in_(in), left_(length), chunk_(chunk_size ? chunk_size : 65536),
        chunk_timeout_(chunk_timeout) {}
  // Next piece of the body; an empty view at the end. IOError on an early end.
  Result<std::string_view> Next();
  // Reads and discards what is left (after a subrequest failed early).
  Status Drain();
  uint64_t left() const { return left_; }

 private:
  net::ByteStream& in_;
  uint64_t left_;
  size_t chunk_;
  double chunk_timeout_;
  size_t piece_left_ = 0;  // bytes still to come in the current chunk
  double waited_ = 0;      // seconds spent waiting for them so far
  std::string buf_;
};

// The object server's PUT / POST / DELETE for a replication subrequest. A non-OK
// Result means the session stream failed (early end, timeout) and the session must
// end; otherwise the HTTP-like status says what Swift's object server would answer.
// ApplyPut reads the whole body when it returns a response >= 200 with OK status,
// except when it rejects the request before reading (the caller drains the rest).
Result<SubResponse> ApplyPut(const PartitionStore& store, const SubRequest& req,
                             BodyReader& body);
SubResponse ApplyPost(const PartitionStore& store, const SubRequest& req);
SubResponse ApplyDelete(const PartitionStore& store, const SubRequest& req);

}  // namespace replicant::sync::ssync
