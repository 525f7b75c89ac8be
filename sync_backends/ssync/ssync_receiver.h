// SSYNC receiver: the server side of Swift 2.30's SSYNC protocol
// (swift/obj/ssync_receiver.py), writing objects in Swift's on-disk format.
//
// The replication server parses the HTTP request line and headers, checks the
// device (507) and takes a replication slot, then calls HandleSsync with the
// de-chunked request body and a response stream (which the server frames as HTTP
// chunked). HandleSsync runs the whole session: :MISSING_CHECK: and :UPDATES:
// sections, in-body ":ERROR:" lines on failure. One call per session; concurrent
// sessions run in different threads (the partition lock serializes what must be).
//
// Body stream contract: a read that times out (client_timeout) should fail with
// Status::Unavailable, so the sender gets Swift's ":ERROR: 408 ..." line; any other
// read error is treated as a disconnect (logged; nothing more is written).
#pragma once

#include <map>
#include <string>

#include "base/status.h"
#include "diskfile/fallocate.h"
#include "net/byte_stream.h"

namespace replicant::sync::ssync {

struct SsyncRequest {
  std::string devices_dir;     // the server's `devices`
  std::string device;          // from the path /<device>/<partition>
  std::string partition;
  int policy_index = 0;        // X-Backend-Storage-Policy-Index
  // All request headers, keys lower-cased (X-Backend-Ssync-Frag-Index, ...).
  std::map<std::string, std::string> headers;
  std::string remote_addr;     // for logs
  int64_t reclaim_age = 604800;
  double client_timeout = 60;  // seconds per read of the body
  size_t network_chunk_size = 65536;
  double replication_lock_timeout = 15;  // partition lock wait
  // Swift's hash_path salt. When both are empty, HandleSsync reads them from
  // <swift_dir>/swift.conf (once per process and swift_dir).
  std::string hash_path_prefix, hash_path_suffix;
  std::string swift_dir = "/etc/swift";
  // Swift's replication_concurrency_per_device as a cross-process lock on
  // <device>/.lock, .lock1, ... taken inside the partition lock (as Swift's
  // replication_lock does). 0 leaves per-device limits to the server's slots.
  int replication_concurrency_per_device = 0;
  // [object-server] replication_failure_threshold / _ratio.
  int replication_failure_threshold = 100;
  double replication_failure_ratio = 1.0;
  // fallocate_reserve / disable_fallocate: a PUT that would leave the device at its
  // reserve gets 507; the session then applies nothing more and ends with
  // ":ERROR: 507" (the sender keeps its copies and treats the device as full).
  diskfile::FallocateConfig fallocate;
};

// Swift's initialize_request checks that can fail before the 200 is sent: device and
// partition names (no '/', not '.' or '..', not empty) and an integer
// X-Backend-Ssync-Frag-Index. InvalidArgument with Swift's message: answer 400.
Status ValidateSsyncRequest(const SsyncRequest& req);

// Runs one SSYNC session. The returned status is for the server's log; what the
// sender sees has already been written to `response`.
Status HandleSsync(const SsyncRequest& req, net::ByteStream& body, net::ByteStream& response);

}  // namespace replicant::sync::ssync
