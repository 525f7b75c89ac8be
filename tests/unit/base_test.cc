// base/: Status and Result, ParallelFor and its parked helpers.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "base/parallel_for.h"
#include "base/status.h"

using replicant::Result;
using replicant::Status;

TEST_CASE("Status carries code and context", "[status]") {
  Status s = Status::Corruption("bad magic").WithContext("/etc/swift/object.ring.gz");
  CHECK_FALSE(s.ok());
  CHECK(s.IsCorruption());
  CHECK(s.ToString() == "Corruption: /etc/swift/object.ring.gz: bad magic");
  CHECK(Status::OK().WithContext("x").ok());
  CHECK(Status::FromErrno("open foo", ENOENT).IsNotFound());
  CHECK(Status::FromErrno("open foo", EACCES).message() == "open foo: Permission denied");
}

TEST_CASE("Result holds a value or a status", "[status]") {
  Result<int> good = 42;
  REQUIRE(good.ok());
  CHECK(*good == 42);
  Result<int> bad = Status::NotFound("nope");
  CHECK_FALSE(bad.ok());
  CHECK(bad.status().message() == "nope");
}

TEST_CASE("ParallelFor runs every index once, on several threads, and rethrows", "[base]") {
  std::vector<std::atomic<int>> runs(1000);
  std::mutex mu;
  std::set<std::thread::id> threads;
  replicant::ParallelFor(runs.size(), 4, [&](size_t i) {
    runs[i]++;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    std::lock_guard<std::mutex> l(mu);
    threads.insert(std::this_thread::get_id());
  });
  for (const auto& r : runs) REQUIRE(r.load() == 1);
  CHECK(threads.size() > 1);
  CHECK(threads.size() <= 4);
  CHECK(threads.count(std::this_thread::get_id()) == 1);  // the caller works too

  std::atomic<int> done{0};
  CHECK_THROWS_AS(replicant::ParallelFor(100, 3,
                                         [&](size_t i) {
                                           if (i == 7) throw std::runtime_error("seven");
                                           done++;
                                         }),
                  std::runtime_error);
  CHECK(done.load() == 99);  // the others still ran: no index is left half-done
  replicant::ParallelFor(0, 4, [&](size_t) { FAIL("no index"); });
}

namespace {
// The kernel thread ids (not std::thread ids, which a new thread may inherit from a
// joined one's cached stack), other than the caller's, that ran a ParallelFor of slow
// indexes.
std::set<pid_t> HelperThreads() {
  std::mutex mu;
  std::set<pid_t> ids;
  replicant::ParallelFor(200, 4, [&](size_t) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::lock_guard<std::mutex> l(mu);
    ids.insert(gettid());
  });
  ids.erase(gettid());
  return ids;
}
}  // namespace

TEST_CASE("ParallelFor reuses its helper threads, and works in a forked child", "[base]") {
  std::set<pid_t> seen = HelperThreads();
  REQUIRE(!seen.empty());
  // Parked helpers take a later call's work. A few tries: on a loaded machine a helper
  // may not be parked yet when the next call queues (a new one is made then), or may
  // come after the caller did every index itself. Kernel thread ids are not reused
  // this soon, so without reuse no try can match.
  bool reused = false;
  for (int attempt = 0; attempt < 10 && !reused; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (const auto& id : HelperThreads()) reused = reused || !seen.insert(id).second;
  }
  CHECK(reused);

  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The parent's helpers do not exist here: the child makes its own and finishes.
    std::set<pid_t> child = HelperThreads();
    _exit(child.empty() ? 2 : 0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("ParallelFor nested in its own f completes", "[base]") {
  std::atomic<int> total{0};
  replicant::ParallelFor(8, 4, [&](size_t) {
    replicant::ParallelFor(50, 4, [&](size_t) { total++; });
  });
  CHECK(total.load() == 400);
}
