#include "sync_backends/peer_gate.h"

#include <algorithm>

namespace replicant::sync {

PeerGate::Hold PeerGate::Acquire(std::vector<std::string> peers) {
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] {
    return std::none_of(peers.begin(), peers.end(), [&](const std::string& p) {
      auto it = held_.find(p);
      return it != held_.end() && it->second >= per_device_;
    });
  });
  for (const auto& p : peers) held_[p]++;
  return Hold(this, std::move(peers));
}

PeerGate::Hold::~Hold() {
  if (!gate_) return;
  {
    std::lock_guard<std::mutex> l(gate_->mu_);
    for (const auto& k : keys_) {
      if (--gate_->held_[k] <= 0) gate_->held_.erase(k);
    }
  }
  gate_->cv_.notify_all();
}

}  // namespace replicant::sync
