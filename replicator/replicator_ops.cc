#include "replicator/replicator_ops.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "replicator/recon_update.h"

namespace replicant {

ReplicatorOps::ReplicatorOps(const ReplicatorConfig& cfg)
    : cfg_(cfg),
      progress_(ProgressFilePath(cfg.recon_cache_path, cfg.worker_index), cfg.sync_method) {}

Result<std::unique_ptr<ReplicatorOps>> ReplicatorOps::Create(const ReplicatorConfig& cfg) {
  auto client = StatsdClient::Create(cfg.statsd);
  if (!client.ok()) return client.status().WithContext(cfg.config_path);
  std::unique_ptr<ReplicatorOps> ops(new ReplicatorOps(cfg));
  ops->statsd_ = std::move(*client);
  ops->statsd_observer_ = std::make_unique<ReplicationStatsd>(*ops->statsd_);
  ops->observers_.Add(ops->statsd_observer_.get());
  ops->observers_.Add(&ops->progress_);
  ops->observers_.Add(&ops->watchdog_);
  return ops;
}

void ReplicatorOps::Ready(const std::string& mode) {
  progress_.SetState("starting");
  notifier_.Ready(fmt::format("object replicator started ({}, sync_method={})", mode,
                              cfg_.sync_method));
}

void ReplicatorOps::PassStarting() {
  notifier_.WatchdogPing();
  notifier_.SetStatus(fmt::format("replication pass {} running", passes_ + 1));
}

void ReplicatorOps::PassFinished(const PassSummary& s, bool publish_recon) {
  ++passes_;
  double end = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  if (publish_recon) {
    std::string path = cfg_.recon_cache_path + "/object.recon";
    auto st = DumpReconCache(
        ReconUpdate(s, end, LoadReconCache(path), cfg_.worker_index.has_value()), path);
    if (!st.ok()) spdlog::error("Exception dumping recon cache: {}", st.message());
  }
  progress_.PassFinished(s);
  notifier_.WatchdogPing();
  const auto& t = s.total;
  notifier_.SetStatus(fmt::format(
      "pass {} {} in {:.1f}s: {} partitions, {} success, {} failure, {} handoffs remaining",
      passes_, s.aborted ? "aborted" : "complete", s.seconds, s.jobs, t.success, t.failure,
      s.handoffs_remaining));
}

void ReplicatorOps::Stopping() {
  progress_.SetState("stopping");
  notifier_.Stopping("finishing the jobs in flight");
}

void ReplicatorOps::Exited() { progress_.SetState("stopped"); }

}  // namespace replicant
