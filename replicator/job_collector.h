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

#include "formats/swift_conf.h"
#include "replicator/stats.h"
#include "ring/ring.h"
#include "sync_backends/sync_backend.h"

namespace replicant {

struct PolicyRing {
  StoragePolicy policy;
  std::string ring_path;
  std::shared_ptr<const Ring> ring;
};

// What a priority job (priority_jobs.h) did, filled in by the job as it runs (on one
// worker thread; read after the pass).
struct PriorityOutcome {
  std::atomic<bool> ran{false};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> bytes{0};
};

struct PartitionJob {
  sync::SyncJob sync;           // device, partition, policy, paths, region, is_handoff
  uint32_t partition = 0;
  int local_dev_id = -1;
  std::vector<Device> nodes;    // primaries other than the local device
  std::shared_ptr<const Ring> ring;
  // Set on priority jobs only: an update job whose `nodes` are the devices it was asked
  // to push to; a 507 from one does not send it on to handoffs.
  std::shared_ptr<PriorityOutcome> priority;
};

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

std::vector<PartitionJob> CollectJobs(const std::vector<PolicyRing>& rings,
                                      const CollectOptions& opts, StatsBook& stats,
                                      std::mt19937_64& rng);

}  // namespace replicant
