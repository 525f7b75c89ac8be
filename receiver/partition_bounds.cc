#include "receiver/partition_bounds.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace replicant::receiver {

std::optional<uint64_t> PartitionBounds::Limit(const StoragePolicy& policy) {
  std::lock_guard<std::mutex> l(mu_);
  Entry& e = rings_[policy.index];
  std::string path = swift_dir_ + "/" + policy.ring_name() + ".ring.gz";
  if (!e.watcher) {
    auto opened = RingWatcher::Open(path);
    if (!opened.ok()) {
      if (!e.warned) {
        spdlog::warn("Cannot read the ring of policy {}: {}; its partitions are not checked "
                     "against the ring", policy.index, opened.status().message());
        e.warned = true;
      }
      return std::nullopt;
    }
    e.watcher = std::move(*opened);
    e.warned = false;
  } else if (auto r = e.watcher->ReloadIfChanged(); !r.ok()) {
    // The ring in service stays: a half-written ring file is retried next time.
    spdlog::warn("Reloading {}: {}", path, r.status().message());
  }
  auto ring = e.watcher->ring();
  int power = std::max(ring->part_power(), ring->next_part_power().value_or(0));
  return uint64_t{1} << power;
}

}  // namespace replicant::receiver
