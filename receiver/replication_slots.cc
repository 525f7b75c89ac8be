#include "receiver/replication_slots.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include <fmt/format.h>

namespace replicant::receiver {

std::optional<ReplicationSlots::Slot> ReplicationSlots::TryAcquire() {
  if (limit_ <= 0) {
    in_use_.fetch_add(1);
    return Slot(this);
  }
  int cur = in_use_.load();
  while (cur < limit_) {
    if (in_use_.compare_exchange_weak(cur, cur + 1)) return Slot(this);
  }
  return std::nullopt;
}

ReplicationSlots::Slot::~Slot() {
  if (owner_) owner_->in_use_.fetch_sub(1);
}

Result<DeviceSlot> DeviceSlot::Acquire(const std::string& device_path, int limit,
                                       double timeout_seconds) {
  if (limit <= 0) return DeviceSlot(-1);
  std::string base = device_path + "/.lock";
  std::vector<int> fds;
  auto close_all = [&](int keep) {
    for (int fd : fds) {
      if (fd != keep) close(fd);
    }
  };
  for (int i = 0; i < limit; ++i) {
    std::string p = i == 0 ? base : fmt::format("{}-{}", base, i);
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0777);
    if (fd < 0) {
      int err = errno;
      close_all(-1);
      return Status::FromErrno("open " + p, err);
    }
    fds.push_back(fd);
  }
  // Swift's lock_path polling: 10 ms steps, slower (1% of the timeout) after 1% of it.
  using namespace std::chrono;
  auto start = steady_clock::now();
  double sleep_s = 0.01;
  for (;;) {
    for (int fd : fds) {
      if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        close_all(fd);
        return DeviceSlot(fd);
      }
      if (errno != EWOULDBLOCK && errno != EINTR) {
        int err = errno;
        close_all(-1);
        return Status::FromErrno("flock " + base, err);
      }
    }
    double waited = duration<double>(steady_clock::now() - start).count();
    if (waited >= timeout_seconds) {
      close_all(-1);
      return Status::Unavailable(fmt::format("{:g} seconds: {}", timeout_seconds, base));
    }
    if (waited > timeout_seconds * 0.01) sleep_s = std::max(timeout_seconds * 0.01, 0.01);
    std::this_thread::sleep_for(
        duration<double>(std::min(sleep_s, std::max(timeout_seconds - waited, 0.001))));
  }
}

DeviceSlot::~DeviceSlot() {
  if (fd_ >= 0) close(fd_);  // closing the descriptor releases the flock
}

}  // namespace replicant::receiver
