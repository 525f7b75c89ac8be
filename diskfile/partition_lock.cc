#include "diskfile/partition_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "diskfile/fs_util.h"

namespace replicant::diskfile {

Result<PartitionLock> PartitionLock::Acquire(const std::string& directory, double timeout_seconds) {
  if (int err = fs::MakeDirs(directory); err != 0) {
    return Status::FromErrno("mkdirs " + directory, err);
  }
  std::string path = directory + "/.lock";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0777);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  // Swift's polling schedule: 10 ms sleeps, slowing to 1% of the timeout later on.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_seconds);
  const double slow_sleep = std::max(timeout_seconds * 0.01, 0.01);
  double slept = 0;
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return PartitionLock(fd);
    int err = errno;
    if (err != EWOULDBLOCK && err != EINTR) {
      close(fd);
      return Status::FromErrno("flock " + path, err);
    }
    auto now = Clock::now();
    if (now >= deadline) break;
    double sleep = slept > timeout_seconds * 0.01 ? slow_sleep : 0.01;
    auto left = std::chrono::duration<double>(deadline - now).count();
    sleep = std::min(sleep, left);
    std::this_thread::sleep_for(std::chrono::duration<double>(sleep));
    slept += sleep;
  }
  close(fd);
  char msg[64];
  std::snprintf(msg, sizeof msg, ": timed out after %gs waiting for the lock", timeout_seconds);
  return Status::Unavailable(path + msg);
}

PartitionLock& PartitionLock::operator=(PartitionLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

PartitionLock::~PartitionLock() {
  if (fd_ >= 0) close(fd_);  // closing the only descriptor releases the flock
}

}  // namespace replicant::diskfile
