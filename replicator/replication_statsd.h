// ReplicationStatsd: the StatsD metrics Swift 2.30's object replicator emits, from a
// pass's hooks: partition.update.count.<device> / partition.delete.count.<device> when
// a primary / handoff job starts, partition.update.timing / partition.delete.timing
// (milliseconds) when it ends, suffix.hashes (suffixes rehashed) and suffix.syncs
// (suffixes synced to a peer) as the counters move, and lockup.count.<device> when a
// device's jobs are cancelled for lockup_timeout (replicant's own). Names get the client's prefix
// ("<log_statsd_metric_prefix>.object-replicator."). Thread-safe (the client is).
#pragma once

#include "replicator/pass_observer.h"
#include "replicator/statsd.h"

namespace replicant {

class ReplicationStatsd : public PassObserver {
 public:
  explicit ReplicationStatsd(StatsdClient& client) : c_(client) {}
  void JobStarted(const PartitionJob& job) override;
  void JobFinished(const PartitionJob& job, double seconds) override;
  void PartitionLockFailed(const PartitionJob& job) override;
  void StatsChanged(const std::string& device, const ReplicationStats& before,
                    const ReplicationStats& after) override;

 private:
  StatsdClient& c_;
};

}  // namespace replicant
