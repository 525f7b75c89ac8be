// Job collector: turns local devices x replication policies x partition dirs into
// the shuffled list of partition jobs of one replication pass (Swift's collect_jobs /
// build_replication_jobs).
//
// A job is a primary job ("update": the local device is one of the partition's
// primaries) or a handoff job ("revert": it is not, so the data must go to every
// primary and then be removed here). CollectJobs is called by one thread per pass;
// it also does Swift's per-device housekeeping (tmp cleanup, objects dir creation).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "replicator/job_list.h"
#include "replicator/stats.h"

namespace replicant {

struct CollectOptions {
  std::string devices_dir;
  bool mount_check = true;
  std::string ring_ip;
  std::optional<int> port;
  int64_t reclaim_age = 604800;
  bool handoffs_first = false;
  std::optional<std::set<std::string>> override_devices;
  std::optional<std::set<int>> override_partitions;
  std::optional<std::set<int>> override_policies;
};

// The pass's jobs, shuffled (handoffs first when asked), as tickets (job_list.h).
JobList CollectJobs(const std::vector<PolicyRing>& rings,
                                      const CollectOptions& opts, StatsBook& stats,
                                      std::mt19937_64& rng);

}  // namespace replicant
