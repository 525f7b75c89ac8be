// ReplicationLock: Swift's lock_path(directory, name=..., limit=...), the flock files
// an SSYNC receiver holds for the length of a session.
//
// Swift 2.30's replication_lock takes <part>/.lock-replication (so an incoming SSYNC
// and the local replicator's handoff revert never work on one partition at once) and,
// when replication_concurrency_per_device is set, one of <dev>/.lock, <dev>/.lock1, ...
// (at most that many sessions per device across processes). Each file is flocked with
// LOCK_EX|LOCK_NB and polled until a deadline; the directory and files are created
// when missing and never removed, as Swift does. Move-only; released on destruction.
// Each acquisition opens its own file descriptions, so threads exclude each other too.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace replicant::diskfile {

class ReplicationLock {
 public:
  // Locks one of <directory>/.lock[-name], .lock[-name]1, ... (limit files) within
  // timeout seconds. Unavailable("<timeout> seconds: <lock path>") on timeout, as
  // Swift's LockTimeout reads.
  static Result<ReplicationLock> Acquire(const std::string& directory, const std::string& name,
                                         int limit, double timeout);

  ReplicationLock(ReplicationLock&& o) noexcept : fds_(std::move(o.fds_)) { o.fds_.clear(); }
  ReplicationLock& operator=(ReplicationLock&& o) noexcept;
  ReplicationLock(const ReplicationLock&) = delete;
  ReplicationLock& operator=(const ReplicationLock&) = delete;
  ~ReplicationLock();

 private:
  explicit ReplicationLock(std::vector<int> fds) : fds_(std::move(fds)) {}
  std::vector<int> fds_;
};

}  // namespace replicant::diskfile
