// The replication throttle's token bucket (sync_backends/rate_limit.h), on the real
// clock: each case takes well under a second or two.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "sync_backends/rate_limit.h"

using replicant::sync::RateLimiter;
using replicant::sync::Throttle;
using Clock = std::chrono::steady_clock;

namespace {
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

TEST_CASE("RateLimiter: zero is unlimited", "[rate_limit]") {
  RateLimiter r(0);
  CHECK(r.unlimited());
  auto t = Clock::now();
  for (int i = 0; i < 1000; ++i) REQUIRE(r.Acquire(uint64_t{1} << 40).ok());
  CHECK(Since(t) < 0.5);
  Throttle none = Throttle::Make(0, 0);
  CHECK_FALSE(none.bytes);
  CHECK_FALSE(none.files);
  CHECK(none.Bytes(123456789).ok());
  CHECK(none.Files(1000000).ok());
}

TEST_CASE("RateLimiter: a burst of one second, then the rate", "[rate_limit]") {
  RateLimiter r(1000);
  auto t = Clock::now();
  REQUIRE(r.Acquire(1000).ok());  // the burst: no wait
  CHECK(Since(t) < 0.1);
  REQUIRE(r.Acquire(400).ok());  // 400 tokens at 1000/s
  double waited = Since(t);
  CHECK(waited >= 0.39);
  CHECK(waited < 0.7);
  // More than the burst in one request is allowed; it just takes longer.
  t = Clock::now();
  REQUIRE(r.Acquire(1500).ok());
  CHECK(Since(t) >= 1.45);
}

TEST_CASE("RateLimiter: the burst does not grow while idle", "[rate_limit]") {
  RateLimiter r(2000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // would be 600 more tokens
  auto t = Clock::now();
  REQUIRE(r.Acquire(2000).ok());
  REQUIRE(r.Acquire(500).ok());
  CHECK(Since(t) >= 0.24);
}

TEST_CASE("RateLimiter: concurrent callers share the rate", "[rate_limit]") {
  RateLimiter r(4000);
  auto t = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 50; ++k) REQUIRE(r.Acquire(50).ok());  // 2500 each
    });
  }
  for (auto& th : threads) th.join();
  // 10000 tokens, 4000 of them the burst: (10000 - 4000) / 4000 = 1.5 s at least.
  double took = Since(t);
  CHECK(took >= 1.45);
  CHECK(took < 2.5);
}

TEST_CASE("RateLimiter: Cancel wakes a sleeper and fails later calls", "[rate_limit]") {
  RateLimiter r(10);
  REQUIRE(r.Acquire(10).ok());
  Clock::time_point woke;
  replicant::Status got;
  std::thread sleeper([&] {
    got = r.Acquire(100);  // 10 s of debt
    woke = Clock::now();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto cancelled = Clock::now();
  r.Cancel();
  sleeper.join();
  CHECK_FALSE(got.ok());
  CHECK(std::chrono::duration<double>(woke - cancelled).count() < 0.5);
  auto t = Clock::now();
  CHECK_FALSE(r.Acquire(1).ok());
  CHECK(Since(t) < 0.1);
  // Zero tokens never waits nor fails.
  CHECK(r.Acquire(0).ok());
}

TEST_CASE("Throttle: Cancel reaches both limiters", "[rate_limit]") {
  Throttle t = Throttle::Make(1 << 20, 100);
  REQUIRE(t.bytes);
  REQUIRE(t.files);
  CHECK(t.Bytes(1000).ok());
  CHECK(t.Files(1).ok());
  t.Cancel();
  CHECK_FALSE(t.Bytes(1).ok());
  CHECK_FALSE(t.Files(1).ok());
}

#include "sync_backends/rsync/rsync_backend.h"

TEST_CASE("EffectiveBwlimit: rsync's share of bytes_per_second", "[rate_limit]") {
  using replicant::sync::EffectiveBwlimit;
  CHECK(EffectiveBwlimit("0", 0, 4) == "0");               // no throttle: rsync_bwlimit as is
  CHECK(EffectiveBwlimit("300", 0, 4) == "300");
  CHECK(EffectiveBwlimit("0", 4 << 20, 4) == "1024");      // 4 MiB/s over 4 rsyncs
  CHECK(EffectiveBwlimit("0", 4 << 20, 0) == "4096");      // concurrency < 1 counts as 1
  CHECK(EffectiveBwlimit("300", 4 << 20, 4) == "300");     // rsync_bwlimit is tighter
  CHECK(EffectiveBwlimit("2000", 4 << 20, 4) == "1024");
  CHECK(EffectiveBwlimit("1m", 8 << 20, 4) == "1m");       // 1 MiB/s < 2 MiB/s
  CHECK(EffectiveBwlimit("1MiB", 1 << 20, 2) == "512");
  CHECK(EffectiveBwlimit("1MB", 1000000, 1) == "1MB");     // 1000-based: equal, kept
  CHECK(EffectiveBwlimit("1.5K", 1 << 20, 1) == "1.5K");
  CHECK(EffectiveBwlimit("100", 10, 4) == "1");            // at least 1 KiB/s
  CHECK(EffectiveBwlimit("bogus", 1 << 20, 1) == "bogus");  // rsync reports it, as before
}
