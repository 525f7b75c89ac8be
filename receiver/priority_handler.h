// POST /priorityrep: queues a priority replication job (receiver/priority_job.h) on
// `replicant serve`, which listens on the replication network only, like REPLICATE.
//
// 202 + {"queued": path} when the job file is durable; 400 for a malformed body
// (bad JSON, unknown keys, wrong types, unsafe device names, over kMaxPriorityBody) or
// a partition outside the policy's ring; 503 for an unknown or non-replication policy;
// 507 when from_device fails check_drive; 404 when the partition is not on it; 500
// when the job file cannot be written. Any other POST path: 405. Thread-safe.
#pragma once

#include "receiver/server.h"

namespace replicant::receiver {

Status HandlePriorityRep(Exchange& ex);

}  // namespace replicant::receiver
