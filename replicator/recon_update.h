// ReconUpdate: what a finished pass adds to object.recon, with Swift 2.30's keys:
// replication_stats, replication_time (minutes), replication_last (unix time), the
// object_replication_* aliases, and object_replication_per_disk {device: the same five
// keys for that device's stats} (the shape Swift's multi-worker replicator writes,
// which Swift's aggregate_recon_update and swift-recon read). Entries of devices that
// are no longer local (not in `s.per_device`, which holds every local device of a full
// pass) are removed, as Swift's aggregate_recon_update removes them. A pure function.
#pragma once

#include <nlohmann/json.hpp>

#include "replicator/replicator.h"

namespace replicant {

// `recon`: object.recon as it is now (for its per-disk device names); may be null.
nlohmann::json ReconUpdate(const PassSummary& s, double end_time, const nlohmann::json& recon);

}  // namespace replicant
