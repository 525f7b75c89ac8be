// RateLimiter and Throttle: replication's byte and file rates (bytes_per_second,
// files_per_second), one token bucket per resource for the whole replicator process.
//
// A RateLimiter is a token bucket filled at `rate` tokens per second up to a burst of
// one second's worth (at least one token), so small files are not each a sleep apart.
// Acquire(n) takes n tokens at once, going into debt when fewer are there, and sleeps
// until the debt is repaid: concurrent callers queue up in order of their reservations
// and together never exceed the rate. A request larger than the burst is allowed (it
// just waits longer). Cancel() wakes every sleeper and makes every later Acquire fail,
// so a stopping replicator does not sleep through its stop_timeout. A rate of 0 means
// unlimited: Acquire returns at once without taking a lock.
//
// Throttle bundles the two limiters a backend honours; a null limiter is unlimited.
// Backends receive a copy (shared pointers) through their options: they know nothing
// of each other, yet all draw on the same buckets.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "base/status.h"

namespace replicant::sync {

class RateLimiter {
 public:
  // rate: tokens per second; <= 0 is unlimited.
  explicit RateLimiter(double rate);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes n tokens, sleeping as long as the rate requires; Unavailable once cancelled
  // (before or during the sleep). OK at once when unlimited or n == 0.
  Status Acquire(uint64_t n);
  // Wakes the sleepers (their Acquire fails) and fails every later Acquire.
  void Cancel();
  bool unlimited() const { return rate_ <= 0; }
  double rate() const { return rate_; }

 private:
  using Clock = std::chrono::steady_clock;
  const double rate_;
  const double burst_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  double tokens_;         // may be negative: reserved by callers still sleeping
  Clock::time_point last_;  // when tokens_ was last refilled
};

struct Throttle {
  std::shared_ptr<RateLimiter> bytes;  // bytes_per_second
  std::shared_ptr<RateLimiter> files;  // files_per_second

  // Builds the limiters for the two rates (0 = unlimited: no limiter at all).
  static Throttle Make(double bytes_per_second, double files_per_second);
  Status Bytes(uint64_t n) const { return bytes ? bytes->Acquire(n) : Status::OK(); }
  Status Files(uint64_t n) const { return files ? files->Acquire(n) : Status::OK(); }
  void Cancel() const {
    if (bytes) bytes->Cancel();
    if (files) files->Cancel();
  }
};

}  // namespace replicant::sync
