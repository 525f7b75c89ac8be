// PeerGate: at most N sync sessions of this process per peer device at a time.
//
// Receivers allow N replication sessions per device (Swift's
// replication_concurrency_per_device, 1 by default) and make one more poll for the
// lock. A replicator that runs several jobs' syncs at once (concurrency, pipelining)
// takes its peers' devices here first, so a later sync waits in this process instead
// and starts the moment the device has a free slot. N must not exceed what the
// receivers allow.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace replicant::sync {

class PeerGate {
 public:
  explicit PeerGate(int per_device = 1) : per_device_(per_device < 1 ? 1 : per_device) {}

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

  // Waits until each of `peers` (e.g. "ip:port/device") has a free slot, then holds
  // them all at once (so two stages never deadlock holding one each).
  Hold Acquire(std::vector<std::string> peers);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> held_;  // device -> sessions holding it
  const int per_device_;
};

}  // namespace replicant::sync
