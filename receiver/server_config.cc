#include "receiver/server_config.h"

#include <climits>
#include <cmath>

#include "formats/config_check.h"
#include "diskfile/fallocate.h"
#include "ops/progress_file.h"

namespace replicant::receiver {
namespace {

// Collects the first error while reading options, so one message names the option.
class Reader {
 public:
  explicit Reader(const ConfigSection& s) : s_(s) {}

  template <typename T>
  void Take(Result<T> r, T* out) {
    if (!r.ok()) {
      if (err_.ok()) err_ = r.status();
      return;
    }
    *out = *r;
  }
  void Int(const char* key, int64_t lo, int64_t hi, int* out) {
    int64_t v = *out;
    Take(s_.GetInt(key, v), &v);
    Check(key, v >= lo && v <= hi, Range(lo, hi));
    if (err_.ok()) *out = static_cast<int>(v);
  }
  // Swift's `int(conf.get(key) or default)`: an empty value means the default.
  void IntOr(const char* key, int64_t lo, int64_t hi, int* out) {
    if (auto v = s_.Get(key); v && v->empty()) return;
    Int(key, lo, hi, out);
  }
  void PositiveSeconds(const char* key, double* out) {
    Take(s_.GetDouble(key, *out), out);
    Check(key, std::isfinite(*out) && *out > 0, "must be a number of seconds greater than 0");
  }
  void Check(const char* key, bool ok, const std::string& what) {
    if (ok || !err_.ok()) return;
    auto v = s_.Get(key);
    err_ = Status::InvalidArgument(s_.source() + ": [" + s_.name() + "] " + key + " = " +
                                   (v ? *v : std::string("(default)")) + ": " + what);
  }
  const Status& status() const { return err_; }

 private:
  static std::string Range(int64_t lo, int64_t hi) {
    return "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  }
  const ConfigSection& s_;
  Status err_;
};

// Every option ServerConfigFromSection and `serve` read, and Swift's daemon options
// serve accepts without effect.
KnownOptions ServerOptions() {
  KnownOptions k;
  k.used = {"bind_ip", "bind_port", "devices", "mount_check", "swift_dir",
            "replication_concurrency", "replication_concurrency_per_device",
            "replication_one_per_device", "replication_lock_timeout", "client_timeout",
            "node_timeout", "network_chunk_size", "reclaim_age", "max_clients",
            "native_extensions", "native_max_frame", "native_max_batch",
            "native_delta_min_size", "native_batch_sync", "disable_fallocate",
            "fallocate_reserve", "recon_cache_path", "replication_failure_threshold",
            "replication_failure_ratio", "nice_priority", "ionice_class", "ionice_priority",
            "user"};
  k.used.insert(LoggingOptionNames().begin(), LoggingOptionNames().end());
  k.not_honoured = {"daemonize", "workers", "servers_per_port", "eventlet_debug",
                    "log_custom_handlers",
                    "use", "disk_chunk_size", "mb_per_sync", "splice", "keep_cache_size"};
  return k;
}

}  // namespace

Result<ServerConfig> ServerConfigFromSection(const ConfigSection& s) {
  ServerConfig c;
  Reader r(s);
  c.source = s.source();
  c.bind_ip = s.GetString("bind_ip", c.bind_ip);
  if (!s.Get("bind_port") || s.Get("bind_port")->empty()) {
    return Status::InvalidArgument(s.source() + ": [" + s.name() +
                                   "] bind_port: must be set (the replication port)");
  }
  r.Int("bind_port", 0, 65535, &c.bind_port);
  c.devices = s.GetString("devices", c.devices);
  r.Take(s.GetBool("mount_check", c.mount_check), &c.mount_check);
  c.swift_dir = s.GetString("swift_dir", c.swift_dir);
  r.IntOr("replication_concurrency", 0, 1 << 20, &c.replication_concurrency);
  // Swift 2.30's DiskFileManager: the deprecated replication_one_per_device applies
  // only when replication_concurrency_per_device is absent.
  if (!s.Has("replication_concurrency_per_device") && s.Has("replication_one_per_device")) {
    bool one = true;
    r.Take(s.GetBool("replication_one_per_device", true), &one);
    c.replication_concurrency_per_device = one ? 1 : 0;
  } else {
    r.Int("replication_concurrency_per_device", 0, 1 << 16, &c.replication_concurrency_per_device);
  }
  int lock_timeout = static_cast<int>(c.replication_lock_timeout);
  r.Int("replication_lock_timeout", 0, 86400, &lock_timeout);  // int() in Swift
  c.replication_lock_timeout = lock_timeout;
  r.PositiveSeconds("client_timeout", &c.client_timeout);
  r.PositiveSeconds("node_timeout", &c.node_timeout);
  int chunk = static_cast<int>(c.network_chunk_size);
  r.Int("network_chunk_size", 1, 64 << 20, &chunk);
  c.network_chunk_size = static_cast<size_t>(chunk);
  r.Take(s.GetInt("reclaim_age", c.reclaim_age), &c.reclaim_age);
  r.Check("reclaim_age", c.reclaim_age >= 0, "must not be negative");
  r.Int("max_clients", 1, 1 << 16, &c.max_clients);
  r.IntOr("replication_failure_threshold", 0, INT32_MAX, &c.replication_failure_threshold);
  if (auto v = s.Get("replication_failure_ratio"); v && !v->empty()) {
    r.Take(s.GetDouble("replication_failure_ratio", 1.0), &c.replication_failure_ratio);
    r.Check("replication_failure_ratio",
            std::isfinite(c.replication_failure_ratio) && c.replication_failure_ratio >= 0,
            "must be a number not below 0");
  }
  c.native_extensions = s.GetString("native_extensions", c.native_extensions);
  int max_frame = static_cast<int>(c.native_max_frame);
  r.Int("native_max_frame", 4096, 1 << 30, &max_frame);
  c.native_max_frame = static_cast<size_t>(max_frame);
  r.Int("native_max_batch", 1, 1 << 16, &c.native_max_batch);
  r.Take(s.GetInt("native_delta_min_size", c.native_delta_min_size), &c.native_delta_min_size);
  r.Check("native_delta_min_size", c.native_delta_min_size >= 0, "must not be negative");
  c.native_batch_sync = s.GetString("native_batch_sync", c.native_batch_sync);
  r.Check("native_batch_sync", c.native_batch_sync == "syncfs" || c.native_batch_sync == "fsync",
          "expected syncfs or fsync");
  bool disable_fallocate = false;
  r.Take(s.GetBool("disable_fallocate", false), &disable_fallocate);
  c.fallocate.enabled = !disable_fallocate;
  if (Status st = diskfile::ParseFallocateReserve(s.GetString("fallocate_reserve", "1%"),
                                                &c.fallocate);
      !st.ok()) {
    r.Check("fallocate_reserve", false, "expected bytes or a percentage such as 1%");
  }
  c.log_name = s.GetString("log_name", c.log_name);
  // readconf sets log_name to the section name when absent; keep ours readable.
  if (c.log_name.empty() || c.log_name == kServerSection) c.log_name = "replicant-server";
  c.log_level = s.GetString("log_level", c.log_level);
  static const char* kLevels[] = {"DEBUG", "INFO", "NOTICE", "WARNING", "WARN", "ERROR",
                                  "CRITICAL"};
  std::string upper = c.log_level;
  for (auto& ch : upper) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  bool known = false;
  for (const char* l : kLevels) known |= upper == l;
  r.Check("log_level", known, "expected DEBUG, INFO, WARNING, ERROR or CRITICAL");
  if (!r.status().ok()) return r.status();
  return c;
}

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  auto file = ConfigFile::Load(path);
  if (!file.ok()) return file.status();
  auto sec = file->Section(kServerSection);
  if (!sec.ok()) return sec.status();
  auto cfg = ServerConfigFromSection(*sec);
  if (!cfg.ok()) return cfg;
  cfg->warnings = UnusedOptionWarnings(*file, kServerSection, ServerOptions());
  cfg->process = ProcessOptionsFromSection(*sec);
  auto named = file->Section(kServerSection, cfg->log_name);
  if (!named.ok()) return named.status();
  auto log = LogOptionsFromSection(*named, cfg->log_name);
  if (!log.ok()) return log.status();
  cfg->log = std::move(*log);
  std::string recon = "/var/cache/swift";
  if (auto r = file->Items("object-replicator"); r.ok()) recon = r->GetString("recon_cache_path", recon);
  if (auto s = file->Items(kServerSection); s.ok()) recon = s->GetString("recon_cache_path", recon);
  cfg->progress_path = ProgressFilePath(recon);
  return cfg;
}

}  // namespace replicant::receiver
