// ReplicateClient: the REPLICATE verb, as Swift's replicator speaks it to a peer's
// object (replication) server.
//
//   REPLICATE /<device>/<partition>            -> 200, body pickle {suffix: md5}
//   REPLICATE /<device>/<partition>/<s1-s2..>  -> peer invalidates those suffixes
//
// Requests carry Swift 2.30's exact headers (Host, Accept-Encoding: identity,
// Content-Length: 0, User-Agent "object-replicator <pid>",
// X-Backend-Storage-Policy-Index) and travel over HttpTransport: persistent keep-alive
// connections cached per thread and per peer, TCP_NODELAY, conn_timeout for each
// connect and http_timeout for the whole request. The class holds its timeouts and the
// peers that refused batches (under a lock), so one instance may be shared by every
// worker thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace replicant {

struct ReplicatePeer {
  std::string ip;    // replication_ip
  int port = 0;      // replication_port
  std::string device;
};

struct ReplicateResponse {
  long http_status = 0;  // 0 when no HTTP response was received
  // suffix -> hash. A value that is not a str in the peer's pickle (None) is kept
  // as an empty string, which never equals a real hash.
  std::map<std::string, std::string> hashes;
};

struct ReplicateTimeouts {
  double conn_timeout = 0.5;  // seconds to connect
  double http_timeout = 60;   // seconds for the whole request
};

// A response body larger than this is an error (a partition's hashes are ~200 KB at
// most: 4096 suffixes); it bounds what a broken peer can make us buffer, and what its
// pickle can make the load allocate (~130 bytes per byte, adversarially).
constexpr size_t kMaxReplicateBody = 4 << 20;

struct HashesRequest {
  ReplicatePeer peer;
  std::string partition;
  int policy_index = 0;
};

// REPLICATE requests started by ReplicateClient::StartGetHashes, collected later on
// the thread that started them (their connections are that thread's).
class PendingHashes {
 public:
  ~PendingHashes();
  // Waits for every answer; one result per request, in order, as GetHashes returns.
  std::vector<Result<ReplicateResponse>> Collect();

 private:
  friend class ReplicateClient;
  struct Flights;
  explicit PendingHashes(std::unique_ptr<Flights> f);
  std::unique_ptr<Flights> flights_;
};

class BatchRefusals;

class ReplicateClient {
 public:
  explicit ReplicateClient(ReplicateTimeouts t);

  // Asks the peer for its suffix hashes of a partition. Transport errors and
  // unparseable bodies come back as a non-OK status; any HTTP status (507...) is a
  // response for the caller to interpret.
  Result<ReplicateResponse> GetHashes(const ReplicatePeer& peer, const std::string& partition,
                                      int policy_index) const;

  // GetHashes for many (peer, partition) pairs, in two steps: the requests go out now,
  // concurrently (one connection per peer, one poll loop, on the calling thread), each
  // with its own http_timeout from now, and Collect() gathers the answers, so the
  // caller can hash the same partitions locally while the peers answer. A slow or
  // failing peer delays or fails only its own entries. The partitions of one peer
  // device go in REPLICATE-BATCH requests (formats/replicate_batch.h); a peer that
  // answers 405 (Swift's object server) is asked partition by partition, in Collect()
  // and for an hour after (by this client and its copies). Each entry is what
  // GetHashes would have returned.
  std::unique_ptr<PendingHashes> StartGetHashes(const std::vector<HashesRequest>& requests) const;

  // Tells the peer to rehash `suffixes` (body ignored).
  Result<ReplicateResponse> Rehash(const ReplicatePeer& peer, const std::string& partition,
                                   int policy_index, const std::vector<std::string>& suffixes) const;

 private:
  ReplicateTimeouts timeouts_;
  std::shared_ptr<BatchRefusals> refusals_;  // thread-safe; shared by copies
};

// The suffix -> hash map of a 200 answer's pickled body, as GetHashes returns it;
// Corruption (prefixed with `where`) for a bad pickle or one that is not a dict.
Result<std::map<std::string, std::string>> ParseHashesAnswer(std::string_view body,
                                                             const std::string& where);

// The request bytes Swift 2.30's replicator sends for REPLICATE `path` (exposed for
// tests).
std::string BuildReplicateRequest(const ReplicatePeer& peer, const std::string& path,
                                  int policy_index);

}  // namespace replicant
