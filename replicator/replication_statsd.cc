#include "replicator/replication_statsd.h"

namespace replicant {
namespace {

// Swift's update_deleted() reverts a handoff, update() syncs a primary.
const char* Kind(const PartitionJob& job) { return job.sync.is_handoff ? "delete" : "update"; }

}  // namespace

void ReplicationStatsd::JobStarted(const PartitionJob& job) {
  c_.Increment(std::string("partition.") + Kind(job) + ".count." + job.sync.device);
}

void ReplicationStatsd::JobFinished(const PartitionJob& job, double seconds) {
  c_.Timing(std::string("partition.") + Kind(job) + ".timing", seconds * 1000.0);
}

void ReplicationStatsd::PartitionLockFailed(const PartitionJob& job) {
  c_.Increment("partition.lock-failure.count");
}

void ReplicationStatsd::StatsChanged(const std::string& device, const ReplicationStats& before,
                                     const ReplicationStats& after) {
  // Each StatsBook update adds one get_hashes' or one sync's count, as Swift's
  // update_stats calls do.
  if (int64_t d = after.suffix_hash - before.suffix_hash; d > 0) c_.UpdateStats("suffix.hashes", d);
  if (int64_t d = after.suffix_sync - before.suffix_sync; d > 0) c_.UpdateStats("suffix.syncs", d);
  if (int64_t d = after.lockups - before.lockups; d > 0) c_.UpdateStats("lockup.count." + device, d);
}

}  // namespace replicant
