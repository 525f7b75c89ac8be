// Worker parent: Swift 2.30's replicator_workers (ObjectReplicator.get_worker_args /
// is_healthy / post_multiprocess_run with swift.common.daemon's DaemonStrategy).
//
// With replicator_workers = N > 0 the local devices (sorted; with -d only those) are
// dealt round-robin to min(N, devices) worker processes. Each worker is this binary,
// `replicant replicate CONFIG [--once] -d DEVS --worker-index I`, in a process group
// of its own: a device stuck in one worker does not hold up the others. A worker
// publishes only its devices' object_replication_per_disk entries; the parent fills
// the top-level recon keys once every local device has reported, and drops the entries
// of devices no longer local (AggregateReconUpdate).
// once: one pass per worker; the parent waits for all (exit 1 when one failed).
// daemon: every ring_check_interval the parent re-reads the rings; when the set of
// local devices changed it stops the workers and starts a new set; a worker that exits
// is restarted; SIGTERM/SIGINT stop the workers (their own stop_timeout applies) and
// then the parent; SIGHUP is passed on (each worker reloads its configuration).
// Called from the main thread before any other thread starts; not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "replicator/replicator.h"
#include "replicator/replicator_config.h"

namespace replicant {

// Swift's distribute_evenly: items dealt round-robin into n lists.
std::vector<std::vector<std::string>> DistributeEvenly(const std::vector<std::string>& items,
                                                       int n);

// The sorted names of this node's devices in the rings of every replication policy.
Result<std::vector<std::string>> LocalDeviceNames(const ReplicatorConfig& cfg);

struct WorkerParentArgs {
  std::string conf_path;
  bool once = false;
  bool verbose = false;
  PassOverrides overrides;  // -d/-p/-i (only with once)
};

// Runs the workers; returns the exit code, or -1 when there is nothing to split (no
// local device): the caller then runs in one process, as Swift does.
int RunWorkerParent(const ReplicatorConfig& cfg, const WorkerParentArgs& args);

}  // namespace replicant
