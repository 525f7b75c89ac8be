#include "diskfile/replication_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "base/text.h"
#include "diskfile/fs_util.h"

namespace replicant::diskfile {

Result<ReplicationLock> ReplicationLock::Acquire(const std::string& directory,
                                                 const std::string& name, int limit,
                                                 double timeout) {
  if (limit < 1) return Status::InvalidArgument("lock limit must be at least 1");
  // durably: the partition dir a receiver creates here holds what it acknowledges
  if (int err = fs::MakeDirs(directory); err != 0) {
    return Status::FromErrno("mkdirs " + directory, err);
  }
  std::string base = directory + "/.lock" + (name.empty() ? "" : "-" + name);
  std::vector<int> fds;
  auto close_all = [&] {
    for (int fd : fds) close(fd);
    fds.clear();
  };
  for (int i = 0; i < limit; ++i) {
    // get_zero_indexed_base_string: .lock, .lock1, .lock2, ...
    std::string path = i == 0 ? base : base + std::to_string(i);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0777);
    if (fd < 0) {
      Status s = Status::FromErrno("open " + path, errno);
      close_all();
      return s;
    }
    fds.push_back(fd);
  }
  // Swift polls at 10 ms, then at 1% of the timeout once 1% has passed.
  auto start = std::chrono::steady_clock::now();
  double sleep_s = 0.01, slower = std::max(timeout * 0.01, 0.01);
  for (;;) {
    for (size_t i = 0; i < fds.size(); ++i) {
      if (flock(fds[i], LOCK_EX | LOCK_NB) == 0) {
        int held = fds[i];
        fds.erase(fds.begin() + static_cast<long>(i));
        close_all();  // only the locked one is kept
        return ReplicationLock(std::vector<int>{held});
      }
    }
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed >= timeout) break;
    if (elapsed > timeout * 0.01) sleep_s = slower;
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::min(sleep_s, std::max(0.0, timeout - elapsed))));
  }
  close_all();
  return Status::Unavailable(SecondsText(timeout) + ": " + base);
}

ReplicationLock& ReplicationLock::operator=(ReplicationLock&& o) noexcept {
  if (this != &o) {
    for (int fd : fds_) close(fd);
    fds_ = std::move(o.fds_);
    o.fds_.clear();
  }
  return *this;
}

ReplicationLock::~ReplicationLock() {
  for (int fd : fds_) close(fd);
}

}  // namespace replicant::diskfile
