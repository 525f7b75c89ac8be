// PartitionBounds: which partition numbers a policy's object ring has, for
// `replicant serve` to refuse a REPLICATE/SSYNC/REPCONN path naming any other.
//
// Swift's object server accepts any partition below 2^32 and creates the directory;
// the replicator then finds a partition its ring does not have. The bound is
// 2^part_power (2^next_part_power during a part power increase, whose new partitions
// are legitimate). Rings are read from <swift_dir>/object[-N].ring.gz when first needed
// and re-read when the file's mtime changes (RingWatcher). A policy whose ring cannot
// be read is not bounded beyond 2^32 (logged once per policy): the replication port
// keeps working on a node whose ring is being redeployed.
//
// Thread-safe: called from every connection thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "formats/swift_conf.h"
#include "ring/ring_watcher.h"

namespace replicant::receiver {

class PartitionBounds {
 public:
  explicit PartitionBounds(std::string swift_dir) : swift_dir_(std::move(swift_dir)) {}

  // One past the highest partition of the policy's ring; nullopt when the ring cannot
  // be read.
  std::optional<uint64_t> Limit(const StoragePolicy& policy);

 private:
  struct Entry {
    std::unique_ptr<RingWatcher> watcher;
    bool warned = false;
  };
  const std::string swift_dir_;
  std::mutex mu_;
  std::map<int, Entry> rings_;
};

}  // namespace replicant::receiver
