// ServerConfig: the options of `replicant serve`, read from [DEFAULT] + [replicant-server].
//
// Option names, defaults and parsing follow Swift 2.30's object server where it has the
// same option (replication_concurrency "or 4", replication_concurrency_per_device 1,
// replication_lock_timeout 15, client_timeout 60, node_timeout 3, network_chunk_size
// 65536, reclaim_age one week, mount_check true, devices /srv/node, fallocate_reserve
// 1%, disable_fallocate false). Every error names
// the file, the section and the option. A loaded config is an immutable value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "formats/config.h"
#include "base/status.h"
#include "diskfile/fallocate.h"
#include "ops/log_setup.h"
#include "ops/process_options.h"

namespace replicant::receiver {

struct ServerConfig {
  std::string source;  // the file read, for messages
  std::string bind_ip = "0.0.0.0";
  int bind_port = 0;  // required: there is no sensible default next to an object server
  std::string devices = "/srv/node";
  bool mount_check = true;
  std::string swift_dir = "/etc/swift";
  int replication_concurrency = 4;             // SSYNC sessions at once; 0 = unlimited
  int replication_concurrency_per_device = 1;  // per device; 0 = unlimited
  double replication_lock_timeout = 15;        // seconds to wait for a device slot
  double client_timeout = 60;                  // seconds per read from a client
  double node_timeout = 3;
  size_t network_chunk_size = 65536;
  int64_t reclaim_age = 604800;
  int max_clients = 1024;  // connections served at once; more wait in the backlog
  // Native protocol (REPCONN), replicant's own options.
  std::string native_extensions = "batch,delta,md5";  // offered to senders; "" = plain
  size_t native_max_frame = 32u << 20;                // largest frame accepted
  int native_max_batch = 1024;                        // files per batch
  int64_t native_delta_min_size = 1 << 20;            // smallest .data given a signature
  // How a batch is made durable before it is acknowledged: "fsync" (every temp file,
  // then every touched directory) or "syncfs" (one syncfs(2) of the device's filesystem
  // in place of many small fsyncs; see native::BatchSync). Same guarantee.
  std::string native_batch_sync = "syncfs";
  // Swift's fallocate_reserve ("1%" default: bytes, or percent with '%') and
  // disable_fallocate, as the object server reads them.
  diskfile::FallocateConfig fallocate{true, 1, true};
  // SSYNC: a session stops once this many objects failed and failures outnumber
  // successes by more than the ratio ([object-server] options in Swift, "or 100"/"or 1.0").
  int replication_failure_threshold = 100;
  double replication_failure_ratio = 1.0;
  std::string log_name = "replicant-server";
  std::string log_level = "INFO";
  // Seconds requests in flight may still run after a stop signal (not a config-file
  // option: tests shorten it).
  double shutdown_grace = 10;
  // Start-up warnings (options in [replicant-server] that serve does not use).
  std::vector<std::string> warnings;
  // Read with the rest by LoadServerConfig, so that the file is parsed once: the
  // logging, user and priority of the process, and the replicator's progress file on
  // this node (recon_cache_path of [replicant-server], else of [object-replicator]).
  LogOptions log;
  ProcessOptions process;
  std::string progress_path;
};

inline constexpr const char* kServerSection = "replicant-server";
inline constexpr const char* kDefaultServerConfig = "/etc/swift/object-server.conf";

// Reads CONFIG's [replicant-server] section ([DEFAULT] merged in).
Result<ServerConfig> LoadServerConfig(const std::string& path);
// The same from an already parsed section (tests).
Result<ServerConfig> ServerConfigFromSection(const ConfigSection& section);

}  // namespace replicant::receiver
