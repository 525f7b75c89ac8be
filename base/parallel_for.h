// ParallelFor: runs f(i) for every i in [0, n) on up to `threads` threads, the
// caller's among them, and returns when all are done.
//
// For work that waits on the disk (fsyncs, cold reads of many small files): the disk
// serves overlapping requests together, so a few threads hide most of the waiting.
// The indexes are handed out in order, one at a time; f must be safe to run
// concurrently with itself on different indexes. An exception thrown by f is
// rethrown in the caller once every thread has joined (the first one, if several).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace replicant {

template <typename F>
void ParallelFor(size_t n, size_t threads, const F& f) {
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto work = [&] {
    for (size_t i; (i = next++) < n;) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> l(error_mu);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(n, threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace replicant
