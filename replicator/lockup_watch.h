// LockupWatch: per-device progress of one replication pass, for lockup_timeout (Swift's
// reconstructor option; Hummingbird cancelled a device after 4 h).
//
// A device is "busy" while a worker or a pipelined stage works on one of its jobs
// (Enter() .. the Busy token's end) and makes progress when one of its jobs finishes or
// one of its counters moves (bytes sent included). A device busy with no progress for
// `timeout` seconds is locked up: Check() reports it once and from then on Cancelled()
// is true, so the pass skips its remaining jobs and gives the stuck work's threads
// replacements (a hung system call cannot be interrupted; its thread finishes when the
// call returns). Thread-safe: every method locks.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace replicant {

class LockupWatch {
 public:
  using Clock = std::chrono::steady_clock;
  // timeout <= 0: off (Check() never reports).
  explicit LockupWatch(double timeout) : timeout_(timeout) {}
  LockupWatch(const LockupWatch&) = delete;
  LockupWatch& operator=(const LockupWatch&) = delete;

  bool enabled() const { return timeout_ > 0; }
  double timeout() const { return timeout_; }

  // Work on one device, from Enter() until the token is destroyed or reset.
  class Busy {
   public:
    Busy() = default;
    Busy(LockupWatch* w, std::string dev) : w_(w), dev_(std::move(dev)) {}
    Busy(Busy&& o) noexcept : w_(o.w_), dev_(std::move(o.dev_)) { o.w_ = nullptr; }
    Busy& operator=(Busy&& o) noexcept;
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;
    ~Busy() { Reset(); }
    void Reset();

   private:
    LockupWatch* w_ = nullptr;
    std::string dev_;
  };
  Busy Enter(const std::string& device);
  // What the device's work is doing now, for the lockup's log line.
  void Where(const std::string& device, const std::string& partition, const std::string& peer);
  // A job of `device` finished or one of its counters moved.
  void Progress(const std::string& device);
  bool Cancelled(const std::string& device) const;

  struct Lockup {
    std::string device, partition, peer;
    double seconds = 0;  // since the device's last progress
    int busy = 0;        // units of work stuck on it
  };
  // Devices busy with no progress for the timeout, each reported once; they are
  // Cancelled() from now on.
  std::vector<Lockup> Check(Clock::time_point now = Clock::now());

 private:
  struct DeviceState {
    int busy = 0;
    Clock::time_point last;
    std::string partition = "-", peer = "-";
  };
  void Leave(const std::string& device);

  const double timeout_;
  mutable std::mutex mu_;
  std::map<std::string, DeviceState> devices_;
  std::set<std::string> cancelled_;
};

}  // namespace replicant
