// Replication slots: how many replication sessions (SSYNC, REPCONN) run at once.
//
// Two limits, as in Swift 2.30's object server:
//  * overall, `replication_concurrency` (0 = unlimited): Swift's replication_semaphore,
//    taken without waiting; a session that finds it full is refused at once (SSYNC
//    answers ":ERROR: 503 ..." in its body).
//  * per device, `replication_concurrency_per_device` (0 = unlimited): Swift's
//    lock_path(device, limit=N), an flock on one of <device>/.lock, .lock-1 ... .lock-(N-1),
//    polled until `replication_lock_timeout`. The files are Swift's own, so a Swift
//    object server sharing the disks counts against the same limit.
// ReplicationSlots is thread-safe; slots are move-only RAII handles, released by their
// destructor.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/status.h"

namespace replicant::receiver {

class ReplicationSlots {
 public:
  // Releases its overall slot when destroyed.
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

// One of a device's `limit` lock files, held until destroyed.
class DeviceSlot {
 public:
  // Unavailable "<timeout> seconds: <device>/.lock" (Swift's ReplicationLockTimeout
  // text) when every file stays locked for timeout_seconds; IOError when the files
  // cannot be opened. limit <= 0 takes nothing.
  static Result<DeviceSlot> Acquire(const std::string& device_path, int limit,
                                    double timeout_seconds);
  DeviceSlot(DeviceSlot&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DeviceSlot& operator=(DeviceSlot&&) = delete;
  DeviceSlot(const DeviceSlot&) = delete;
  ~DeviceSlot();

 private:
  explicit DeviceSlot(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace replicant::receiver
