// ParallelFor: runs f(i) for every i in [0, n) on up to `threads` threads, the
// caller's among them, and returns when all are done.
//
// For work that waits on the disk (fsyncs, cold reads of many small files): the disk
// serves overlapping requests together, so a few threads hide most of the waiting.
// The indexes are handed out in order, one at a time; f must be safe to run
// concurrently with itself on different indexes. An exception thrown by f is
// rethrown in the caller once every helper has finished (the first one, if several).
//
// The helpers come from one process-wide set of parked threads, not made per call:
// an idle pass calls this once per window of partitions on the replicator and once
// per REPLICATE-BATCH on every peer, and a thread made and joined each time cost
// those passes more CPU (clone, stack mmap/munmap and its TLB shootdowns) than the
// hashing it overlapped. A helper (thread name `parallel-for`) parked for a minute
// exits. The caller always works too, so a call completes even when no helper is
// free; a helper that comes too late does nothing. After fork() the child starts
// with no helpers.
//
// Thread-safety: callable from any number of threads at once, and from within f.
#pragma once

#include <cstddef>
#include <functional>

namespace replicant {

void ParallelForImpl(size_t n, size_t threads, const std::function<void(size_t)>& f);

template <typename F>
void ParallelFor(size_t n, size_t threads, const F& f) {
  ParallelForImpl(n, threads, std::function<void(size_t)>(std::cref(f)));
}

}  // namespace replicant
