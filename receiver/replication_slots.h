// ReplicationSlots: how many replication sessions (SSYNC, REPCONN) run at once.
//
// Swift 2.30's replication_semaphore (`replication_concurrency`, 0 = unlimited), taken
// without waiting: a session that finds every slot in use is refused at once (SSYNC
// answers ":ERROR: 503 ..." in its body). The per-device limit
// (`replication_concurrency_per_device`) is Swift's lock_path(device, limit=N) on the
// device's own .lock files, taken inside the partition lock by the session itself
// (diskfile::ReplicationLock), so it also counts sessions of a Swift object server
// sharing the disks. Thread-safe; a Slot is a move-only handle released on destruction.
#pragma once

#include <atomic>
#include <optional>

namespace replicant::receiver {

class ReplicationSlots {
 public:
  class Slot {
   public:
    Slot(Slot&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class ReplicationSlots;
    explicit Slot(ReplicationSlots* owner) : owner_(owner) {}
    ReplicationSlots* owner_;
  };

  explicit ReplicationSlots(int limit) : limit_(limit) {}
  // A slot, or nullopt when `limit` sessions are running (never waits).
  std::optional<Slot> TryAcquire();
  int in_use() const { return in_use_.load(); }
  int limit() const { return limit_; }

 private:
  const int limit_;
  std::atomic<int> in_use_{0};
};

}  // namespace replicant::receiver
