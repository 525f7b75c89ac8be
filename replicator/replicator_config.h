// ReplicatorConfig: the [object-replicator] options (with [DEFAULT] inherited) that
// replicant reads, with Swift 2.30's names and defaults.
//
// Parsed once per (re)load; a plain value afterwards, safe to copy and share.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "ops/log_setup.h"
#include "ops/process_options.h"
#include "replicator/statsd.h"

namespace replicant {

struct ReplicatorConfig {
  std::string config_path;
  std::string devices = "/srv/node";
  bool mount_check = true;
  std::string swift_dir = "/etc/swift";
  std::string ring_ip;                 // ring_ip, else bind_ip, else 0.0.0.0
  std::optional<int> bind_port = 6200;  // unset when servers_per_port > 0
  int concurrency = 1;
  int priority_concurrency = 0;  // replicant: threads for priority jobs (0 = concurrency)
  int replicate_window = 64;  // replicant: update jobs whose REPLICATEs go out together
  int pipeline_depth = 4;    // replicant: partitions a worker syncs at once (fan-out backends)
  double stats_interval = 300;
  double ring_check_interval = 15;
  double interval = 30;
  double stop_timeout = 30;  // replicant: seconds jobs in flight get after SIGTERM
  // Swift's replicator_workers: 0 = one process; N > 0 = min(N, local devices) worker
  // processes, the local devices split among them (worker_parent.h).
  int replicator_workers = 0;
  // Swift's (reconstructor) lockup_timeout: a device whose jobs make no progress for
  // this long is cancelled for the pass (lockup_watch.h); 0 = off.
  double lockup_timeout = 1800;
  int64_t reclaim_age = 604800;
  // Throttle (Swift's object-auditor names): rates for this whole replicator process,
  // honoured by every backend (sync_backends/rate_limit.h); 0 = unlimited.
  double bytes_per_second = 0;
  double files_per_second = 0;
  std::string sync_method = "rsync";
  // rsync backend
  int rsync_timeout = 900;
  std::string rsync_io_timeout = "30";
  std::string rsync_bwlimit = "0";
  bool rsync_compress = false;
  std::string rsync_module = "{replication_ip}::object";
  bool log_rsync_transfers = true;
  int rsync_error_log_line_length = 0;
  bool rsync_tcp_nodelay = true;  // replicant addition: --sockopts=TCP_NODELAY to daemons
  // network
  double http_timeout = 60;
  double conn_timeout = 0.5;
  double node_timeout = 10;
  int network_chunk_size = 65536;
  // native backend (replicant's own options)
  std::string native_extensions = "batch,delta,md5";  // offered to peers; "" = plain Hummingbird
  size_t native_max_frame = 32u << 20;
  int native_batch_files = 256;             // files per batch
  int64_t native_batch_bytes = 16 << 20;    // body bytes per batch
  // sessions to one peer device at once: at most the receivers'
  // replication_concurrency_per_device
  int native_sessions_per_device = 1;
  // handoffs
  bool handoffs_first = false;
  int handoff_delete = 0;  // 0 = "auto": all syncs must succeed
  // recon and logging
  std::string recon_cache_path = "/var/cache/swift";
  std::string log_level = "INFO";
  std::string log_name = "object-replicator";
  // nice_priority, ionice_class/_priority, user
  ProcessOptions process;
  // Read with the rest, so that the file is parsed once per (re)load.
  LogOptions log;
  StatsdOptions statsd;
  // Set from the command line, not the file: this process is worker N of a
  // replicator_workers parent (it publishes only its devices' per-disk recon).
  std::optional<int> worker_index;
  // Start-up warnings: deprecated or unused options in [object-replicator].
  std::vector<std::string> warnings;
};

// Reads [DEFAULT] + [object-replicator] of a Swift config file. Errors name the
// file, section and option (bad numbers, unknown sync_method, missing file).
Result<ReplicatorConfig> LoadReplicatorConfig(const std::string& path);

// Parses "1,2, 3" (Swift's -p/-i lists) into integers; error names the flag.
Result<std::set<int>> ParseIntList(const std::string& flag, const std::string& csv);
std::set<std::string> ParseNameList(const std::string& csv);

}  // namespace replicant
