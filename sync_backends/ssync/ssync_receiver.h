// SSYNC receiver: the server side of Swift 2.30's SSYNC protocol
// (swift/obj/ssync_receiver.py), writing objects in Swift's on-disk format.
//
// The replication server parses the HTTP request line and headers, checks the
// device (507) and takes a replication slot, then calls HandleSsync with the
// de-chunked request body and a response stream (which the server frames as HTTP
// chunked). HandleSsync runs the whole session: :MISSING_CHECK: and :UPDATES:
// sections, in-body ":ERROR:" lines on failure. One call per session; concurrent
// sessions run in different threads (the partition lock serializes what must be).
#pragma once

#include <map>
#include <string>

#include "formats/status.h"
#include "sync_backends/byte_stream.h"

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
};

// Runs one SSYNC session. The returned status is for the server's log; what the
// sender sees has already been written to `response`.
Status HandleSsync(const SsyncRequest& req, ByteStream& body, ByteStream& response);

}  // namespace replicant::sync::ssync
