// PeerGate: at most one sync session of this process per peer device at a time.
//
// Receivers allow one replication session per device (Swift's
// replication_concurrency_per_device = 1) and make a second one poll for the lock. A
// replicator that runs several jobs' syncs at once (concurrency, pipelining) takes
// its peers' devices here first, so a later sync waits in this process instead and
// starts the moment the device is free.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace replicant::sync {

class PeerGate {
 public:
  // Releases the devices it holds when destroyed.
  class Hold {
   public:
    Hold(Hold&& o) noexcept : gate_(o.gate_), keys_(std::move(o.keys_)) { o.gate_ = nullptr; }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold();

   private:
    friend class PeerGate;
    Hold(PeerGate* g, std::vector<std::string> keys) : gate_(g), keys_(std::move(keys)) {}
    PeerGate* gate_;
    std::vector<std::string> keys_;
  };

  // Waits until none of `peers` (e.g. "ip:port/device") is held, then holds them all
  // at once (so two stages never deadlock holding one each).
  Hold Acquire(std::vector<std::string> peers);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> held_;
};

}  // namespace replicant::sync
