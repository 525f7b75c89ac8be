// Backend factory: the SyncBackend named by `sync_method`, configured from the
// replicator's options (Swift's names, plus replicant's native_* options).
#pragma once

#include <memory>

#include "base/status.h"
#include "replicator/replicator_config.h"
#include "sync_backends/rate_limit.h"
#include "sync_backends/ssync/ssync_backend.h"
#include "sync_backends/sync_backend.h"

namespace replicant {

// The process-wide throttle (bytes_per_second, files_per_second): made once per
// loaded configuration and given to every backend of the process (the ssync fallback
// too), so their syncs together keep to the rates.
sync::Throttle MakeThrottle(const ReplicatorConfig& cfg);
// The ssync backend's options from the replicator's (Swift's names).
sync::SsyncOptions SsyncOptionsFor(const ReplicatorConfig& cfg, const sync::Throttle& throttle);
// Builds the backend named by cfg.sync_method; an unknown or unavailable one is an
// error naming the option. rsync gets bytes_per_second as --bwlimit shared by the
// `concurrency` rsyncs that may run at once.
Result<std::shared_ptr<sync::SyncBackend>> MakeSyncBackend(const ReplicatorConfig& cfg,
                                                           const sync::Throttle& throttle);

}  // namespace replicant
