// Sending priority replication jobs (receiver/priority_job.h) to nodes' `replicant
// serve` (POST /priorityrep), and choosing them from rings: the jobs `replicant
// moveparts` and `replicant restore-device` send. Pure planning functions plus a
// blocking sender; thread-safe (no shared state).
#pragma once

#include <string>
#include <vector>

#include "ops/priority_job.h"
#include "ring/ring.h"

namespace replicant {

// One partition's job with the nodes that may hold it, in the order to try.
struct PlannedJob {
  uint32_t partition = 0;
  std::vector<Device> sources;          // POST to the first that has the partition
  std::vector<Device> targets;          // where it must go
  bool all_sources = false;             // POST to every source, not the first that takes it
};

// The same device in two rings: replication ip/port and name.
bool SameDevice(const Device& a, const Device& b);

// moveparts: every partition whose primary set differs between the rings; sources are
// the old primaries still in the new ring, targets the new primaries that were not old
// ones. Error when the rings' partition counts differ.
Result<std::vector<PlannedJob>> PlanMoveParts(const Ring& old_ring, const Ring& new_ring);
// restore-device: every partition of `dev`; sources are its other primaries (each is
// asked), the target is `dev`.
std::vector<PlannedJob> PlanRestore(const Ring& ring, const Device& dev);

struct SendSummary {
  size_t partitions = 0;  // planned
  size_t queued = 0;      // partitions with a job queued on at least one node
  size_t jobs = 0;        // jobs queued (202)
  size_t empty = 0;       // no source holds the partition (404 everywhere): nothing to move
  size_t failures = 0;    // partitions with no job queued and some source unreachable or refusing
  std::vector<std::string> errors;  // one line per failed request, for the operator
};

// Sends the planned jobs, `parallel` requests at a time.
SendSummary SendPriorityJobs(const std::vector<PlannedJob>& plan, int policy, int parallel,
                             double timeout);

}  // namespace replicant
