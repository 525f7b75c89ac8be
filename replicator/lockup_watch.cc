#include "replicator/lockup_watch.h"

namespace replicant {

LockupWatch::Busy& LockupWatch::Busy::operator=(Busy&& o) noexcept {
  if (this != &o) {
    Reset();
    w_ = o.w_;
    dev_ = std::move(o.dev_);
    o.w_ = nullptr;
  }
  return *this;
}

void LockupWatch::Busy::Reset() {
  if (w_) w_->Leave(dev_);
  w_ = nullptr;
}

LockupWatch::Busy LockupWatch::Enter(const std::string& device) {
  std::lock_guard<std::mutex> l(mu_);
  DeviceState& d = devices_[device];
  // The clock starts when the device gets busy: waiting for a worker is not a lockup.
  if (d.busy++ == 0) d.last = Clock::now();
  return Busy(this, device);
}

void LockupWatch::Leave(const std::string& device) {
  std::lock_guard<std::mutex> l(mu_);
  DeviceState& d = devices_[device];
  if (d.busy > 0) d.busy--;
}

void LockupWatch::Where(const std::string& device, const std::string& partition,
                        const std::string& peer) {
  std::lock_guard<std::mutex> l(mu_);
  DeviceState& d = devices_[device];
  d.partition = partition;
  d.peer = peer;
}

void LockupWatch::Progress(const std::string& device) {
  std::lock_guard<std::mutex> l(mu_);
  devices_[device].last = Clock::now();
}

bool LockupWatch::Cancelled(const std::string& device) const {
  std::lock_guard<std::mutex> l(mu_);
  return cancelled_.count(device) > 0;
}

std::vector<LockupWatch::Lockup> LockupWatch::Check(Clock::time_point now) {
  std::vector<Lockup> out;
  if (!enabled()) return out;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [dev, d] : devices_) {
    if (d.busy == 0 || cancelled_.count(dev)) continue;
    double idle = std::chrono::duration<double>(now - d.last).count();
    if (idle < timeout_) continue;
    cancelled_.insert(dev);
    out.push_back({dev, d.partition, d.peer, idle, d.busy});
  }
  return out;
}

}  // namespace replicant
