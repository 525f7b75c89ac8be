// ReplicateClient: the REPLICATE verb, as Swift's replicator speaks it to a peer's
// object (replication) server.
//
//   REPLICATE /<device>/<partition>            -> 200, body pickle {suffix: md5}
//   REPLICATE /<device>/<partition>/<s1-s2..>  -> peer invalidates those suffixes
//
// Each thread keeps its own libcurl handle so connections to a peer are reused
// across partitions (keep-alive) without locking; the class itself is stateless
// and thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "formats/status.h"

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

class ReplicateClient {
 public:
  explicit ReplicateClient(ReplicateTimeouts t) : timeouts_(t) {}

  // Asks the peer for its suffix hashes of a partition. Transport errors and
  // unparseable bodies come back as a non-OK status; any HTTP status (507...) is a
  // response for the caller to interpret.
  Result<ReplicateResponse> GetHashes(const ReplicatePeer& peer, const std::string& partition,
                                      int policy_index) const;
  // Tells the peer to rehash `suffixes` (body ignored).
  Result<ReplicateResponse> Rehash(const ReplicatePeer& peer, const std::string& partition,
                                   int policy_index, const std::vector<std::string>& suffixes) const;

 private:
  Result<ReplicateResponse> Request(const ReplicatePeer& peer, const std::string& path,
                                    int policy_index, bool parse_body) const;
  ReplicateTimeouts timeouts_;
};

}  // namespace replicant
