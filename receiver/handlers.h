// The replication handlers of `replicant serve`: REPLICATE and SSYNC, answering as
// Swift 2.30's object server does on its replication port.
//
// REPLICATE /<dev>/<part>        -> 200, body pickle.dumps(hashes, 2) (get_hashes)
// REPLICATE /<dev>/<part>/<s-s>  -> 200, body pickle.dumps(None, 2); the valid suffixes
//                                   are appended to hashes.invalid (Swift 2.30 only
//                                   invalidates them; the next get_hashes rehashes)
// SSYNC /<dev>/<part>            -> 200 chunked: "\r\n", then a replication slot
//                                   (":ERROR: 503 ..." when the server is full, ":ERROR: 0
//                                   '<t> seconds: <dev>/.lock'" when the device stays
//                                   busy), then sync::ssync::HandleSsync's session.
// Both: 503 "No policy with index X" for an unknown X-Backend-Storage-Policy-Index,
// 400 for a malformed path, 507 when the device fails check_drive. Thread-safe.
#pragma once

#include "receiver/server.h"

namespace replicant::receiver {

Status HandleReplicate(Exchange& ex);
// REPLICATE-BATCH /<dev> (formats/replicate_batch.h): REPLICATE's answers for the listed
// partitions in one 200; REPLICATE's 503/400/507 when the policy, a partition or the
// device fails its checks.
Status HandleReplicateBatch(Exchange& ex);
Status HandleSsyncRequest(Exchange& ex);
// REPCONN /<dev>/<part>: the native protocol (sync::native). 503 when every
// replication slot is taken; otherwise 200 with the agreed X-Replicant-Native
// extensions, then the hijacked connection runs one native session.
Status HandleRepconn(Exchange& ex);
// Registers REPLICATE, REPLICATE-BATCH, SSYNC, REPCONN and POST /priorityrep
// (priority_handler.h).
void RegisterReplicationHandlers(Server& server);

}  // namespace replicant::receiver
