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
// its ETag and Content-Length before it is renamed into place. In a batch, the files
// are made durable before their renames and the directories before any file of the
// batch is acknowledged (see BatchSync).
// Anything malformed (frame length, JSON shape, Path outside the session's partition,
// wrong Size, metadata that does not unpickle or whose X-Timestamp disagrees with the
// file name) ends the session with an {"Error": ...} frame and a log line; a body cut
// short leaves only a temp file that is removed at once. One call per session;
// sessions run concurrently in different threads.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "diskfile/fallocate.h"
#include "net/byte_stream.h"
#include "sync_backends/native/native_store.h"
#include "sync_backends/native/native_wire.h"

namespace replicant::sync::native {

// How a batch's files and directories reach the disk before it is acknowledged.
// kFsync: an fsync of each temp file, then of each directory the batch touched.
// kSyncfs: where that would be many fsyncs of small files (8 or more, each under
// 1 MiB), one syncfs(2) of the device's filesystem instead, before the renames, and one
// more for the directories before the answer; write-back errors anywhere on that
// filesystem since the session began then fail the batch. Large files, and the
// directories of a batch that has one, keep their fsyncs: a syncfs would also wait for
// the other dirty data on the filesystem, which large writes make plentiful.
enum class BatchSync { kSyncfs, kFsync };

struct NativeRequest {
  diskfile::PartitionLocation target;
  std::string remote_addr;           // for log lines
  Extensions extensions;             // agreed with the sender
  int64_t reclaim_age = 604800;
  size_t max_frame = kDefaultMaxFrame;
  size_t max_batch_files = 1024;
  uint64_t delta_min_size = 1 << 20;  // smallest .data offered a delta
  double replication_lock_timeout = 15;
  int replication_concurrency_per_device = 0;  // 0: no device lock
  BatchSync batch_sync = BatchSync::kSyncfs;
  // fallocate_reserve / disable_fallocate: each body is preallocated; one that would
  // leave the device at its reserve fails that file ("FALLOCATE_RESERVE fail ...").
  diskfile::FallocateConfig fallocate;
};

struct NativeSessionStats {
  uint64_t files_received = 0, bytes_received = 0, delta_files = 0;
  uint64_t batch_syncfs = 0, batch_fsyncs = 0;  // the calls that made batches durable
};

// Runs the session to its end. The status says how it ended, for the server's log.
Status HandleNativeSession(const NativeRequest& req, net::ByteStream& conn,
                           NativeSessionStats* stats = nullptr);

}  // namespace replicant::sync::native
