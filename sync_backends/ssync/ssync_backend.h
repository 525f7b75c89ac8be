// SsyncBackend: sync_method = ssync, Swift 2.30's SSYNC sender as a SyncBackend.
//
// Each peer's sync opens one TCP connection to the node's replication_ip:replication_port
// (conn_timeout), sends "SSYNC /<device>/<partition>" with a chunked body and
// X-Backend-Storage-Policy-Index, expects 200, and runs an SsyncSender session over
// it. Timeouts follow Swift's sender: node_timeout for the connect response and for
// every send, http_timeout for each wait on the receiver's answer lines. The
// receiver invalidates the suffixes it writes, so no REPLICATE rehash request is
// needed afterwards. SyncResult::in_sync_objects lists every object offered once the
// session succeeded (Swift's `candidates`), for handoff deletion. A peer with
// check_objs gets the sender with remote_check_objs: the same session, ended after the
// missing check.
//
// Thread-safe: each peer's session keeps all its state on its own stack.
#pragma once

#include <memory>

#include "sync_backends/rate_limit.h"
#include "sync_backends/sync_backend.h"

namespace replicant::sync {

struct SsyncOptions {
  double conn_timeout = 0.5;
  double node_timeout = 10;
  double http_timeout = 60;
  size_t network_chunk_size = 65536;
  int64_t reclaim_age = 604800;
  Throttle throttle;  // bytes per body chunk, a file per PUT/POST/DELETE (SenderOptions)
};

class SsyncBackend final : public PeerByPeerBackend {
 public:
  explicit SsyncBackend(SsyncOptions options) : opts_(options) {}
  const char* name() const override { return "ssync"; }
  bool NeedsRehashRequest() const override { return false; }
  bool ConfirmsObjects() const override { return true; }

 private:
  SyncResult SyncPeer(const SyncJob& job, const PeerSync& peer) override;
  SsyncOptions opts_;
};

}  // namespace replicant::sync
