// PartitionLock: Swift's lock_path(directory) — an exclusive flock on
// <directory>/.lock, the file every Swift process uses to serialise hashes.pkl and
// hashes.invalid updates.
//
// The lock file is created (mode 0777 & ~umask, as os.open does) and never removed,
// and the directory is created first if missing, as Swift does. Acquisition polls
// with LOCK_NB and gives up after a timeout (Swift's default is 10 s) with an
// Unavailable status instead of blocking forever. Each acquisition opens its own file
// description, so two threads of one process exclude each other too. Move-only; the
// lock is released when the object is destroyed.
#pragma once

#include <string>

#include "base/status.h"

namespace replicant::diskfile {

class PartitionLock {
 public:
  static constexpr double kDefaultTimeout = 10.0;

  // Unavailable on timeout; IOError when the directory or lock file cannot be made.
  static Result<PartitionLock> Acquire(const std::string& directory,
                                       double timeout_seconds = kDefaultTimeout);

  PartitionLock(PartitionLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  PartitionLock& operator=(PartitionLock&& o) noexcept;
  PartitionLock(const PartitionLock&) = delete;
  PartitionLock& operator=(const PartitionLock&) = delete;
  ~PartitionLock();

 private:
  explicit PartitionLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace replicant::diskfile
