// The receiving end of a native (REPCONN) replication session.
//
// `replicant serve` answers `REPCONN /<device>/<partition>` with 200 (plus the agreed
// X-Replicant-Native extensions), hijacks the connection and calls HandleNativeSession
// on it. The session holds the partition's replication lock (<part>/.lock-replication,
// as Swift's SSYNC receiver does, so the local replicator never reverts a partition
// that is being written) and, when configured, one of the device's
// replication_concurrency_per_device lock files.
//
// Every file is written as Swift writes it: into <device>/tmp, fsynced, renamed into
// its hash dir, suffix invalidated, obsolete files cleaned up. A .data body must match
// its ETag and Content-Length before it is renamed into place. In a batch, the
// directories are fsynced once per batch before any file of it is acknowledged.
// Anything malformed (frame length, JSON shape, Path outside the session's partition,
// wrong Size, metadata that does not unpickle or whose X-Timestamp disagrees with the
// file name) ends the session with an {"Error": ...} frame and a log line; a body cut
// short leaves only a temp file that is removed at once. One call per session;
// sessions run concurrently in different threads.
#pragma once

#include <cstdint>
#include <string>

#include "formats/status.h"
#include "sync_backends/byte_stream.h"
#include "sync_backends/native/native_store.h"
#include "sync_backends/native/native_wire.h"

namespace replicant::sync::native {

struct NativeRequest {
  SessionTarget target;
  std::string remote_addr;           // for log lines
  Extensions extensions;             // agreed with the sender
  int64_t reclaim_age = 604800;
  size_t max_frame = kDefaultMaxFrame;
  size_t max_batch_files = 1024;
  uint64_t delta_min_size = 1 << 20;  // smallest .data offered a delta
  double replication_lock_timeout = 15;
  int replication_concurrency_per_device = 0;  // 0: no device lock
};

struct NativeSessionStats {
  uint64_t files_received = 0, bytes_received = 0, delta_files = 0;
};

// Runs the session to its end. The status says how it ended, for the server's log.
Status HandleNativeSession(const NativeRequest& req, ByteStream& conn,
                           NativeSessionStats* stats = nullptr);

}  // namespace replicant::sync::native
