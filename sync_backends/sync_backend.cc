#include "sync_backends/sync_backend.h"

#include <spdlog/spdlog.h>

namespace replicant::sync {

SyncResult SyncBackend::Check(const Device& node, const SyncJob& job,
                              const std::vector<std::string>&, const std::set<std::string>&) {
  // Failing closed: a backend that cannot check confirms nothing.
  spdlog::error("{}: the {} backend cannot check objects on {}/{}", job.partition, name(),
                node.replication_ip, node.device);
  return SyncResult{};
}

}  // namespace replicant::sync
