// Backend factory: the SyncBackend named by `sync_method`, configured from the
// replicator's options (Swift's names, plus replicant's native_* options).
#pragma once

#include <memory>

#include "formats/status.h"
#include "replicator/replicator_config.h"
#include "sync_backends/ssync/ssync_backend.h"
#include "sync_backends/sync_backend.h"

namespace replicant {

// The ssync backend's options from the replicator's (Swift's names).
sync::SsyncOptions SsyncOptionsFor(const ReplicatorConfig& cfg);
// Builds the backend named by cfg.sync_method; an unknown or unavailable one is an
// error naming the option.
Result<std::shared_ptr<sync::SyncBackend>> MakeSyncBackend(const ReplicatorConfig& cfg);

}  // namespace replicant
