// ReconUpdate: what a finished pass adds to object.recon, with Swift 2.30's keys:
// replication_stats, replication_time (minutes), replication_last (unix time), the
// object_replication_* aliases, and object_replication_per_disk {device: the same five
// keys for that device's stats} (the shape Swift's multi-worker replicator writes,
// which Swift's aggregate_recon_update and swift-recon read). A pure function.
#pragma once

#include <nlohmann/json.hpp>

#include "replicator/replicator.h"

namespace replicant {

nlohmann::json ReconUpdate(const PassSummary& s, double end_time);

}  // namespace replicant
