// ReconUpdate: what a finished pass adds to object.recon, with Swift 2.30's keys:
// replication_stats, replication_time (minutes), replication_last (unix time), the
// object_replication_* aliases, and object_replication_per_disk {device: the same five
// keys for that device's stats, plus replicant's `lockups`}, and replicant's top-level
// `replicant_lockups` (the pass's lockup_timeout cancellations) (the shape Swift's multi-worker replicator writes,
// which Swift's aggregate_recon_update and swift-recon read). Entries of devices that
// are no longer local (not in `s.per_device`, which holds every local device of a full
// pass) are removed, as Swift's aggregate_recon_update removes them. A pure function.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "replicator/replicator.h"

namespace replicant {

// `recon`: object.recon as it is now (for its per-disk device names); may be null.
// `worker`: a replicator_workers worker's pass (Swift's is_multiprocess_worker): only
// its own devices' per-disk entries; the parent aggregates (AggregateReconUpdate).
nlohmann::json ReconUpdate(const PassSummary& s, double end_time, const nlohmann::json& recon,
                           bool worker = false);

// Swift's aggregate_recon_update, for the parent of replicator_workers: when every
// device of `all_local` has a per-disk entry in `recon`, the top-level keys (stats
// summed, replication_time and _last the minimum over the devices, replicant_lockups
// summed); entries of devices no longer local removed. {} when there is nothing to do.
nlohmann::json AggregateReconUpdate(const nlohmann::json& recon,
                                    const std::vector<std::string>& all_local);

}  // namespace replicant
