#include "replicator/backend_factory.h"

#include <algorithm>

#include "sync_backends/native/native_backend.h"
#include "sync_backends/rsync/rsync_backend.h"
#include "sync_backends/ssync/ssync_backend.h"

namespace replicant {
namespace {


// The ssync backend's options from the replicator's (Swift's names).
sync::SsyncOptions SsyncOptionsFor(const ReplicatorConfig& cfg, const sync::Throttle& throttle) {
  sync::SsyncOptions o;
  o.throttle = throttle;
  o.conn_timeout = cfg.conn_timeout;
  o.node_timeout = cfg.node_timeout;
  o.http_timeout = cfg.http_timeout;
  o.network_chunk_size = static_cast<size_t>(std::max(1, cfg.network_chunk_size));
  o.reclaim_age = cfg.reclaim_age;
  return o;
}

// The backend cfg.sync_method names.
Result<std::shared_ptr<sync::SyncBackend>> MakePrimary(const ReplicatorConfig& cfg,
                                                       const sync::Throttle& throttle) {
  if (cfg.sync_method == "rsync") {
    sync::RsyncOptions o;
    o.module_template = cfg.rsync_module;
    o.timeout_seconds = cfg.rsync_timeout;
    o.io_timeout = cfg.rsync_io_timeout;
    o.bwlimit = sync::EffectiveBwlimit(cfg.rsync_bwlimit, cfg.bytes_per_second, cfg.concurrency);
    o.throttle = throttle;
    o.compress = cfg.rsync_compress;
    o.log_transfers = cfg.log_rsync_transfers;
    o.tcp_nodelay = cfg.rsync_tcp_nodelay;
    o.error_log_line_length = static_cast<size_t>(std::max(0, cfg.rsync_error_log_line_length));
    auto b = sync::RsyncBackend::Create(std::move(o));
    if (!b.ok()) return b.status().WithContext(cfg.config_path + ": [object-replicator] sync_method");
    return std::shared_ptr<sync::SyncBackend>(std::move(*b));
  }
  if (cfg.sync_method == "ssync") {
    return std::shared_ptr<sync::SyncBackend>(
        std::make_shared<sync::SsyncBackend>(SsyncOptionsFor(cfg, throttle)));
  }
  if (cfg.sync_method == "native") {
    sync::NativeOptions o;
    o.session.conn_timeout = cfg.conn_timeout;
    o.session.node_timeout = cfg.node_timeout;
    o.session.http_timeout = cfg.http_timeout;
    o.session.offer = sync::native::Extensions::Parse(cfg.native_extensions);
    o.session.max_frame = cfg.native_max_frame;
    o.session.max_frame_values =
        sync::native::FrameValueLimit(static_cast<size_t>(cfg.native_batch_files));
    o.batch_files = static_cast<size_t>(cfg.native_batch_files);
    o.batch_bytes = static_cast<uint64_t>(cfg.native_batch_bytes);
    o.reclaim_age = cfg.reclaim_age;
    o.devices_dir = cfg.devices;
    o.throttle = throttle;
    o.sessions_per_device = cfg.native_sessions_per_device;
    return std::shared_ptr<sync::SyncBackend>(std::make_shared<sync::NativeBackend>(o));
  }
  return Status::InvalidArgument(cfg.config_path + ": [object-replicator] sync_method = " +
                                 cfg.sync_method + " is not available in this build");
}

}  // namespace

sync::Throttle MakeThrottle(const ReplicatorConfig& cfg) {
  return sync::Throttle::Make(cfg.bytes_per_second, cfg.files_per_second);
}

Result<SyncBackends> MakeSyncBackends(const ReplicatorConfig& cfg, const sync::Throttle& throttle) {
  auto primary = MakePrimary(cfg, throttle);
  if (!primary.ok()) return primary.status();
  SyncBackends b{std::move(*primary), nullptr, 1};
  // Swift's object servers do not speak REPCONN; native syncs them with ssync.
  if (cfg.sync_method == "native") {
    b.fallback = std::make_shared<sync::SsyncBackend>(SsyncOptionsFor(cfg, throttle));
    b.pipeline_depth = std::max(1, cfg.pipeline_depth);
  }
  return b;
}

}  // namespace replicant
