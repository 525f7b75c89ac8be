#include "replicator/daemon.h"

#include <unistd.h>

#include <chrono>

#include <spdlog/spdlog.h>

#include "formats/swift_conf.h"
#include "ops/signal_watcher.h"
#include "replicator/backend_factory.h"

namespace replicant {

Result<ReplicatorDaemon::Parts> ReplicatorDaemon::Build(const ReplicatorConfig& cfg) {
  auto swift = LoadSwiftConf(cfg.swift_dir);
  if (!swift.ok()) return swift.status();
  sync::Throttle throttle = MakeThrottle(cfg);
  auto backends = MakeSyncBackends(cfg, throttle);
  if (!backends.ok()) return backends.status();
  auto r = std::make_unique<Replicator>(cfg, *swift, std::move(*backends), throttle);
  if (auto st = r->LoadRings(); !st.ok()) return st;
  auto ops = ReplicatorOps::Create(cfg);
  if (!ops.ok()) return ops.status();
  r->SetObserver((*ops)->observer());
  return Parts{cfg, std::move(r), std::move(*ops)};
}

Result<std::unique_ptr<ReplicatorDaemon>> ReplicatorDaemon::Create(const ReplicatorConfig& cfg,
                                                                   PassOverrides overrides,
                                                                   bool publish_recon) {
  auto parts = Build(cfg);
  if (!parts.ok()) return parts.status();
  return std::unique_ptr<ReplicatorDaemon>(
      new ReplicatorDaemon(std::move(*parts), std::move(overrides), publish_recon));
}

ReplicatorDaemon::ReplicatorDaemon(Parts parts, PassOverrides overrides, bool publish_recon)
    : parts_(std::move(parts)), overrides_(std::move(overrides)), publish_recon_(publish_recon) {}

int ReplicatorDaemon::RunOnce() {
  spdlog::info("Running object replicator in script mode.");
  parts_.ops->PassStarting();
  PassSummary s = parts_.replicator->RunPass(overrides_);
  spdlog::info("Object replication complete (once). ({:.2f} minutes)", s.seconds / 60.0);
  // As in Swift, a pass limited by -d/-p/-i does not publish recon stats.
  parts_.ops->PassFinished(s, publish_recon_);
  return s.aborted ? 1 : 0;
}

int ReplicatorDaemon::RunForever() {
  // After SIGTERM/SIGINT the jobs in flight get stop_timeout seconds to finish; a job
  // stuck on a silent peer (up to http_timeout or rsync_timeout) must not hold the stop
  // for minutes. Exiting under it is safe: receivers commit by rename and a handoff is
  // removed only after its syncs were confirmed.
  SignalWatcher watcher({
      .on_reload =
          [this] {
            std::lock_guard<std::mutex> l(mu_);
            reload_ = true;
            spdlog::info("SIGHUP: configuration will be reloaded before the next pass");
            cv_.notify_all();
          },
      .on_stop =
          [this](int signo) -> std::optional<double> {
            std::lock_guard<std::mutex> l(mu_);
            terminate_ = true;
            double grace = parts_.cfg.stop_timeout;
            spdlog::info("Signal {}: finishing the jobs in flight (at most {}s) and exiting",
                         signo, grace);
            parts_.ops->Stopping();
            parts_.replicator->Stop();
            cv_.notify_all();
            return grace;
          },
      .on_exit_now =
          [this](const char* why) {
            spdlog::warn("{}: exiting with jobs in flight (their partitions are retried next pass)",
                         why);
            {
              std::lock_guard<std::mutex> l(mu_);
              parts_.ops->Exited();
            }
            spdlog::shutdown();  // flushes the sinks
            _exit(0);
          },
  });
  spdlog::info("Starting object replicator in daemon mode.");
  parts_.ops->Ready("daemon mode");
  for (;;) {
    spdlog::info("Starting object replication pass.");
    parts_.ops->PassStarting();
    PassSummary s = parts_.replicator->RunPass(overrides_);  // a worker's -d
    spdlog::info("Object replication complete. ({:.2f} minutes)", s.seconds / 60.0);
    parts_.ops->PassFinished(s, publish_recon_);
    if (IdleUntilNextPass()) break;
  }
  watcher.Finished();
  watcher.Join();
  parts_.ops->Exited();
  spdlog::info("Object replicator exiting.");
  return 0;
}

bool ReplicatorDaemon::IdleUntilNextPass() {
  std::unique_lock<std::mutex> l(mu_);
  parts_.ops->IdleWait(parts_.cfg.interval, [&](double step) {
    return cv_.wait_for(l, std::chrono::duration<double>(step),
                        [&] { return terminate_ || reload_; });
  });
  if (terminate_) return true;
  if (reload_) {
    reload_ = false;
    l.unlock();
    Reload();
  }
  return false;
}

void ReplicatorDaemon::Reload() {
  const std::string path = parts_.cfg.config_path;
  auto failed = [](const Status& st) {
    spdlog::error("Reload failed, keeping the running configuration: {}", st.message());
  };
  auto cfg = LoadReplicatorConfig(path);
  if (!cfg.ok()) return failed(cfg.status());
  cfg->worker_index = parts_.cfg.worker_index;
  auto fresh = Build(*cfg);
  if (!fresh.ok()) return failed(fresh.status());
  std::lock_guard<std::mutex> l(mu_);
  parts_ = std::move(*fresh);
  spdlog::info("Configuration reloaded from {}", path);
  for (const auto& w : parts_.cfg.warnings) spdlog::warn("{}", w);
}

}  // namespace replicant
