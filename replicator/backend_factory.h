// Backend factory: the SyncBackend named by `sync_method`, configured from the
// replicator's options (Swift's names, plus replicant's native_* options).
#pragma once

#include <memory>

#include "base/status.h"
#include "replicator/replicator_config.h"
#include "sync_backends/rate_limit.h"
#include "sync_backends/sync_backend.h"

namespace replicant {

// The process-wide throttle (bytes_per_second, files_per_second): made once per
// loaded configuration and given to every backend of the process (the ssync fallback
// too), so their syncs together keep to the rates.
sync::Throttle MakeThrottle(const ReplicatorConfig& cfg);

// What a replicator syncs with: `primary`, the backend cfg.sync_method names, and
// `fallback` for the peers the primary cannot reach (a Swift object server answers
// native's REPCONN with 405: ssync then), or null when the primary reaches every peer.
// `pipeline_depth`: how many partitions one worker may sync at once. Only a backend
// that keeps one session per peer device at a time across jobs (native's PeerGate)
// gets the configured depth; the others sync one partition per worker, as Swift.
struct SyncBackends {
  std::shared_ptr<sync::SyncBackend> primary;
  std::shared_ptr<sync::SyncBackend> fallback;
  int pipeline_depth = 1;
};

// Builds them; an unknown or unavailable sync_method is an error naming the option.
// rsync gets bytes_per_second as --bwlimit shared by the `concurrency` rsyncs that may
// run at once; every backend shares `throttle`.
Result<SyncBackends> MakeSyncBackends(const ReplicatorConfig& cfg, const sync::Throttle& throttle);

}  // namespace replicant
