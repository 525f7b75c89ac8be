#include "sync_backends/rate_limit.h"

#include <algorithm>

namespace replicant::sync {

RateLimiter::RateLimiter(double rate)
    : rate_(rate > 0 ? rate : 0),
      burst_(std::max(1.0, rate_)),
      tokens_(burst_),
      last_(Clock::now()) {}

Status RateLimiter::Acquire(uint64_t n) {
  if (rate_ <= 0 || n == 0) return Status::OK();
  if (cancelled_.load()) return Status::Unavailable("replication is stopping (throttle cancelled)");
  std::unique_lock<std::mutex> l(mu_);
  auto now = Clock::now();
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
  last_ = now;
  // Reserve first, then sleep off the debt: later callers see it and wait behind us.
  tokens_ -= static_cast<double>(n);
  if (tokens_ >= 0) return Status::OK();
  auto until = now + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(-tokens_ / rate_));
  if (cv_.wait_until(l, until, [&] { return cancelled_.load(); })) {
    return Status::Unavailable("replication is stopping (throttle cancelled)");
  }
  return Status::OK();
}

void RateLimiter::Cancel() {
  {
    std::lock_guard<std::mutex> l(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

Throttle Throttle::Make(double bytes_per_second, double files_per_second) {
  Throttle t;
  if (bytes_per_second > 0) t.bytes = std::make_shared<RateLimiter>(bytes_per_second);
  if (files_per_second > 0) t.files = std::make_shared<RateLimiter>(files_per_second);
  return t;
}

}  // namespace replicant::sync
