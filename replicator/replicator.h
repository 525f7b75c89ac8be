// Replicator: one object replication pass over this node's devices, as Swift's
// ObjectReplicator.replicate() does it, with a pluggable SyncBackend.
//
// A pass collects the partition jobs, then `concurrency` worker threads run them:
// primary jobs compare suffix hashes with each peer (REPLICATE) and sync what
// differs; handoff jobs push every suffix to every primary and remove the partition
// only when the syncs it depends on succeeded. RunPass is called from one thread at
// a time; Stop() may be called from any thread (e.g. a signal watcher).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "formats/swift_conf.h"
#include "ops/priority_job.h"
#include "replicator/backend_factory.h"
#include "replicator/job_collector.h"
#include "replicator/lockup_watch.h"
#include "replicator/pass_observer.h"
#include "replicator/replicate_client.h"
#include "replicator/replicator_config.h"
#include "replicator/stats.h"
#include "ring/ring_watcher.h"
#include "sync_backends/peer_gate.h"
#include "sync_backends/rate_limit.h"
#include "sync_backends/sync_backend.h"

namespace replicant {

struct PassOverrides {
  std::optional<std::set<std::string>> devices;
  std::optional<std::set<int>> partitions;
  std::optional<std::set<int>> policies;
  bool any() const { return devices || partitions || policies; }
};

struct PassSummary {
  ReplicationStats total;
  std::map<std::string, ReplicationStats> per_device;
  size_t jobs = 0;
  size_t handoffs_remaining = 0;
  double seconds = 0;
  bool aborted = false;  // ring change, handoffs-first abort or Stop()
};

class Replicator {
 public:
  // `throttle`: the one the backends were made with (MakeThrottle); Stop() cancels it.
  Replicator(ReplicatorConfig cfg, SwiftConf swift, SyncBackends backends,
             sync::Throttle throttle = {});
  ~Replicator();

  // Loads the policies' rings; errors name the missing or corrupt ring file.
  Status LoadRings();
  // Runs one pass. Requires LoadRings() to have succeeded.
  PassSummary RunPass(const PassOverrides& overrides);
  // Asks a running pass to finish the jobs in flight and return.
  // Syncs sleeping on the throttle wake and fail (their partitions are retried).
  void Stop() {
    stop_ = true;
    throttle_.Cancel();
  }
  bool stopping() const { return stop_; }
  // Hooks for statsd, progress and the watchdog (may be null); set between passes.
  void SetObserver(PassObserver* o) { observer_ = o; }

 private:
  class Pass;  // per-pass state, in replicator.cc

  // Runs the priority jobs queued under this node's devices (priority_jobs.cc), on
  // their own worker pool of priority_concurrency threads; a job file goes when its
  // job succeeded and is kept, its retries counted, otherwise. Returns the jobs run.
  // Called with priority_mu_ held.
  size_t RunPriorityJobs(const PassOverrides& overrides);
  // A counter that moves (a suffix hashed, bytes sent) is progress for lockup_timeout,
  // and goes to the observer.
  void WatchStats(StatsBook& stats, LockupWatch& lockups) const;
  // From a pass's worker between its jobs: runs the priority jobs queued since, at most
  // once per ring_check_interval and by one worker at a time (the others go on).
  void MaybeRunPriorityJobs();
  // Books one priority job's outcome: its file removed (done) or rewritten with a retry
  // counted. `job` is null when it could not run (`error` says why).
  void FinishPriorityJob(const std::string& path, ops::PriorityJob* pj,
                         const PartitionJob* job, const std::string& error);

  ReplicatorConfig cfg_;
  SwiftConf swift_;
  SyncBackends backends_;
  sync::Throttle throttle_;
  // One fallback sync per peer device at a time: pipelined and concurrent jobs would
  // otherwise exceed a Swift object server's SSYNC limits (503).
  sync::PeerGate fallback_gate_;
  ReplicateClient client_;
  std::vector<PolicyRing> rings_;
  std::vector<std::unique_ptr<RingWatcher>> watchers_;  // parallel to rings_
  std::atomic<bool> stop_{false};
  PassObserver* observer_ = nullptr;
  int replication_cycle_;
  std::mutex priority_mu_;  // guards the three below and RunPriorityJobs
  PriorityProgress priority_;
  PassOverrides pass_overrides_;  // of the pass running
  std::chrono::steady_clock::time_point next_priority_check_;
};

}  // namespace replicant
