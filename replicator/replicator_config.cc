#include "replicator/replicator_config.h"

#include <algorithm>
#include <sstream>

#include "formats/config.h"
#include "formats/config_check.h"

namespace replicant {
namespace {

// Helpers that turn a typed Result into the field, keeping the first error.
template <typename T>
bool Take(Result<T> r, T* out, Status* err) {
  if (!r.ok()) {
    if (err->ok()) *err = r.status();
    return false;
  }
  *out = *r;
  return true;
}

// Swift's run_pause deprecation lines, then one line per unused option.
std::vector<std::string> ReplicatorConfigWarnings(const ConfigFile& file, const ConfigSection& s) {
  std::vector<std::string> out;
  if (s.Has("run_pause")) {
    out.push_back(s.Has("interval")
                      ? "Option object-replicator/run_pause is deprecated and "
                        "object-replicator/interval is already configured. You can safely "
                        "remove run_pause; it is now ignored and will be removed in a future "
                        "version."
                      : "Option object-replicator/run_pause is deprecated and will be removed "
                        "in a future version. Update your configuration to use option "
                        "object-replicator/interval.");
  }
  KnownOptions k;
  k.used = {"devices", "mount_check", "swift_dir", "ring_ip", "bind_ip", "bind_port",
            "servers_per_port", "concurrency", "replicate_window", "pipeline_depth",
            "stats_interval", "ring_check_interval", "run_pause", "interval", "reclaim_age",
            "stop_timeout", "sync_method", "rsync_timeout", "rsync_io_timeout", "rsync_bwlimit",
            "rsync_compress", "rsync_module", "log_rsync_transfers", "rsync_tcp_nodelay",
            "rsync_error_log_line_length", "http_timeout", "conn_timeout", "node_timeout",
            "network_chunk_size", "native_extensions", "native_max_frame",
            "native_batch_files", "native_batch_bytes", "native_sessions_per_device",
            "handoffs_first", "handoff_delete",
            "recon_cache_path", "nice_priority", "ionice_class", "ionice_priority", "user",
            "replicator_workers", "lockup_timeout", "bytes_per_second",
            "files_per_second", "priority_concurrency"};
  k.used.insert(LoggingOptionNames().begin(), LoggingOptionNames().end());
  k.not_honoured = {"daemonize", "eventlet_debug",
                    "log_custom_handlers", "disable_fallocate", "fallocate_reserve"};
  for (auto& w : UnusedOptionWarnings(file, "object-replicator", k)) out.push_back(std::move(w));
  return out;
}

// The pass: devices, rings, concurrency, intervals, throttles, workers.
void ReadPassOptions(const ConfigSection& s, ReplicatorConfig& c, Status* err_out) {
  Status& err = *err_out;
  int64_t i64 = 0;
  c.devices = s.GetString("devices", c.devices);
  Take(s.GetBool("mount_check", c.mount_check), &c.mount_check, &err);
  c.swift_dir = s.GetString("swift_dir", c.swift_dir);
  c.ring_ip = s.GetString("ring_ip", s.GetString("bind_ip", "0.0.0.0"));
  int64_t servers_per_port = 0, bind_port = 6200;
  Take(s.GetInt("servers_per_port", 0), &servers_per_port, &err);
  Take(s.GetInt("bind_port", 6200), &bind_port, &err);
  if (servers_per_port > 0) c.bind_port.reset();
  else c.bind_port = static_cast<int>(bind_port);
  if (Take(s.GetInt("concurrency", c.concurrency), &i64, &err)) c.concurrency = static_cast<int>(i64);
  if (Take(s.GetInt("priority_concurrency", 0), &i64, &err)) {
    c.priority_concurrency = static_cast<int>(std::clamp<int64_t>(i64, -1, 1 << 16));
  }
  if (Take(s.GetInt("replicate_window", c.replicate_window), &i64, &err)) {
    c.replicate_window = static_cast<int>(std::clamp<int64_t>(i64, 0, 1 << 20));
  }
  if (Take(s.GetInt("pipeline_depth", c.pipeline_depth), &i64, &err)) {
    c.pipeline_depth = static_cast<int>(std::clamp<int64_t>(i64, 0, 64));
  }
  Take(s.GetDouble("stats_interval", c.stats_interval), &c.stats_interval, &err);
  Take(s.GetDouble("ring_check_interval", c.ring_check_interval), &c.ring_check_interval, &err);
  // Swift: interval, or the deprecated run_pause, default 30.
  double run_pause = c.interval;
  Take(s.GetDouble("run_pause", c.interval), &run_pause, &err);
  Take(s.GetDouble("interval", run_pause), &c.interval, &err);
  Take(s.GetInt("reclaim_age", c.reclaim_age), &c.reclaim_age, &err);
  Take(s.GetDouble("stop_timeout", c.stop_timeout), &c.stop_timeout, &err);
  if (Take(s.GetInt("replicator_workers", 0), &i64, &err)) {
    c.replicator_workers = static_cast<int>(std::clamp<int64_t>(i64, -1, 1 << 16));
  }
  Take(s.GetDouble("lockup_timeout", c.lockup_timeout), &c.lockup_timeout, &err);
  Take(s.GetDouble("bytes_per_second", c.bytes_per_second), &c.bytes_per_second, &err);
  Take(s.GetDouble("files_per_second", c.files_per_second), &c.files_per_second, &err);
}

// How differing suffixes travel: sync_method and the rsync, HTTP and native options.
void ReadSyncOptions(const ConfigSection& s, ReplicatorConfig& c, Status* err_out) {
  Status& err = *err_out;
  int64_t i64 = 0;
  c.sync_method = s.GetString("sync_method", c.sync_method);
  if (c.sync_method.empty()) c.sync_method = "rsync";
  if (Take(s.GetInt("rsync_timeout", c.rsync_timeout), &i64, &err)) c.rsync_timeout = static_cast<int>(i64);
  c.rsync_io_timeout = s.GetString("rsync_io_timeout", c.rsync_io_timeout);
  c.rsync_bwlimit = s.GetString("rsync_bwlimit", c.rsync_bwlimit);
  Take(s.GetBool("rsync_compress", c.rsync_compress), &c.rsync_compress, &err);
  c.rsync_module = s.GetString("rsync_module", "");
  while (!c.rsync_module.empty() && c.rsync_module.back() == '/') c.rsync_module.pop_back();
  if (c.rsync_module.empty()) c.rsync_module = "{replication_ip}::object";
  Take(s.GetBool("log_rsync_transfers", c.log_rsync_transfers), &c.log_rsync_transfers, &err);
  Take(s.GetBool("rsync_tcp_nodelay", c.rsync_tcp_nodelay), &c.rsync_tcp_nodelay, &err);
  if (Take(s.GetInt("rsync_error_log_line_length", 0), &i64, &err)) {
    c.rsync_error_log_line_length = static_cast<int>(i64);
  }
  Take(s.GetDouble("http_timeout", c.http_timeout), &c.http_timeout, &err);
  Take(s.GetDouble("conn_timeout", c.conn_timeout), &c.conn_timeout, &err);
  Take(s.GetDouble("node_timeout", c.node_timeout), &c.node_timeout, &err);
  if (Take(s.GetInt("network_chunk_size", c.network_chunk_size), &i64, &err)) {
    c.network_chunk_size = static_cast<int>(i64);
  }
  c.native_extensions = s.GetString("native_extensions", c.native_extensions);
  if (Take(s.GetInt("native_max_frame", static_cast<int64_t>(c.native_max_frame)), &i64, &err)) {
    c.native_max_frame = static_cast<size_t>(std::max<int64_t>(4096, i64));
  }
  if (Take(s.GetInt("native_batch_files", c.native_batch_files), &i64, &err)) {
    c.native_batch_files = static_cast<int>(i64);
  }
  Take(s.GetInt("native_batch_bytes", c.native_batch_bytes), &c.native_batch_bytes, &err);
  if (Take(s.GetInt("native_sessions_per_device", c.native_sessions_per_device), &i64, &err)) {
    c.native_sessions_per_device = static_cast<int>(std::clamp<int64_t>(i64, 0, 64));
  }
}

// Handoffs, recon and logging.
void ReadHandoffAndLogOptions(const ConfigSection& s, const std::string& path,
                              ReplicatorConfig& c, Status* err_out) {
  Status& err = *err_out;
  Take(s.GetBool("handoffs_first", c.handoffs_first), &c.handoffs_first, &err);
  std::string hd = s.GetString("handoff_delete", "auto");
  if (hd != "auto" && !hd.empty()) {
    if (auto v = ParsePythonInt(hd); v.ok()) {
      c.handoff_delete = static_cast<int>(*v);
    } else if (err.ok()) {
      err = Status::InvalidArgument(path + ": [object-replicator] handoff_delete: expected "
                                    "'auto' or an integer, got '" + hd + "'");
    }
  }
  c.recon_cache_path = s.GetString("recon_cache_path", c.recon_cache_path);
  c.log_level = s.GetString("log_level", c.log_level);
  c.log_name = s.GetString("log_name", c.log_name);
}

Status ValidateReplicatorConfig(const ReplicatorConfig& c, const std::string& path) {
  if (c.sync_method != "rsync" && c.sync_method != "ssync" && c.sync_method != "native") {
    return Status::InvalidArgument(path + ": [object-replicator] sync_method: unknown method '" +
                                   c.sync_method + "' (expected rsync, ssync or native)");
  }
  auto positive = [&](const char* name, double v) -> Status {
    if (v > 0) return Status::OK();
    return Status::InvalidArgument(path + ": [object-replicator] " + name +
                                   ": must be greater than 0");
  };
  for (auto st : {positive("concurrency", c.concurrency),
                  positive("replicate_window", c.replicate_window),
                  positive("pipeline_depth", c.pipeline_depth),
                  positive("http_timeout", c.http_timeout),
                  positive("rsync_timeout", c.rsync_timeout),
                  positive("conn_timeout", c.conn_timeout),
                  positive("node_timeout", c.node_timeout),
                  positive("stats_interval", c.stats_interval),
                  positive("native_batch_files", c.native_batch_files),
                  positive("native_batch_bytes", static_cast<double>(c.native_batch_bytes)),
                  positive("native_sessions_per_device", c.native_sessions_per_device)}) {
    if (!st.ok()) return st;
  }
  if (c.stop_timeout < 0) {
    return Status::InvalidArgument(path + ": [object-replicator] stop_timeout: must not be negative");
  }
  if (c.priority_concurrency < 0) {
    return Status::InvalidArgument(path + ": [object-replicator] priority_concurrency: must not be negative (0 = concurrency)");
  }
  if (c.replicator_workers < 0) {
    return Status::InvalidArgument(path + ": [object-replicator] replicator_workers: must not be negative");
  }
  if (c.lockup_timeout < 0) {
    return Status::InvalidArgument(path + ": [object-replicator] lockup_timeout: must not be negative (0 = off)");
  }
  for (auto [name, v] : {std::pair<const char*, double>{"bytes_per_second", c.bytes_per_second},
                         {"files_per_second", c.files_per_second}}) {
    if (!(v >= 0)) {
      return Status::InvalidArgument(path + ": [object-replicator] " + name +
                                     ": must not be negative (0 = unlimited)");
    }
  }
  if (c.reclaim_age < 0) {
    return Status::InvalidArgument(path + ": [object-replicator] reclaim_age: must not be negative");
  }
  return Status::OK();
}

}  // namespace

Result<ReplicatorConfig> LoadReplicatorConfig(const std::string& path) {
  auto file = ConfigFile::Load(path);
  if (!file.ok()) return file.status();
  auto sec = file->Section("object-replicator");
  if (!sec.ok()) return sec.status();
  const ConfigSection& s = *sec;
  ReplicatorConfig c;
  Status err;  // the first option that failed to parse
  c.config_path = path;
  ReadPassOptions(s, c, &err);
  ReadSyncOptions(s, c, &err);
  ReadHandoffAndLogOptions(s, path, c, &err);
  if (!err.ok()) return err;
  c.warnings = ReplicatorConfigWarnings(*file, s);
  c.process = ProcessOptionsFromSection(s);
  auto log = LogOptionsFromSection(s, c.log_name);
  if (!log.ok()) return log.status();
  c.log = std::move(*log);
  auto statsd = StatsdOptionsFromSection(s, c.log_name);
  if (!statsd.ok()) return statsd.status();
  c.statsd = std::move(*statsd);
  if (Status st = ValidateReplicatorConfig(c, path); !st.ok()) return st;
  return c;
}

Result<std::set<int>> ParseIntList(const std::string& flag, const std::string& csv) {
  std::set<int> out;
  for (const auto& item : ListFromCsv(csv)) {
    auto v = ParsePythonInt(item);
    if (!v.ok() || *v < 0 || *v > INT32_MAX) {
      return Status::InvalidArgument(flag + ": '" + item + "' is not a non-negative integer");
    }
    out.insert(static_cast<int>(*v));
  }
  return out;
}

std::set<std::string> ParseNameList(const std::string& csv) {
  auto v = ListFromCsv(csv);
  return std::set<std::string>(v.begin(), v.end());
}

}  // namespace replicant
