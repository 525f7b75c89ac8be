#include "ring/ring_watcher.h"

#include <cerrno>

#include "ring/ring_file.h"

namespace replicant {

namespace {

Result<struct timespec> StatMtime(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
  return st.st_mtim;
}

bool SameTime(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

Result<std::unique_ptr<RingWatcher>> RingWatcher::Open(const std::string& path) {
  struct timespec mtime {};
  auto ring = LoadRingFile(path, &mtime);
  if (!ring.ok()) return ring.status();
  return std::unique_ptr<RingWatcher>(new RingWatcher(path, std::move(ring).value(), mtime));
}

std::shared_ptr<const Ring> RingWatcher::ring() const {
  std::lock_guard<std::mutex> l(mu_);
  return ring_;
}

uint64_t RingWatcher::generation() const {
  std::lock_guard<std::mutex> l(mu_);
  return generation_;
}

Result<bool> RingWatcher::HasChangedOnDisk() const {
  auto now = StatMtime(path_);
  if (!now.ok()) return now.status();
  std::lock_guard<std::mutex> l(mu_);
  return !SameTime(*now, mtime_);
}

Result<bool> RingWatcher::ReloadIfChanged() {
  std::lock_guard<std::mutex> reload(reload_mu_);
  auto changed = HasChangedOnDisk();
  if (!changed.ok()) return changed.status();
  if (!*changed) return false;
  struct timespec mtime {};
  auto fresh = LoadRingFile(path_, &mtime);
  if (!fresh.ok()) return fresh.status();
  std::shared_ptr<const Ring> old = ring();
  bool devices_changed = !old->SameDevices(**fresh);
  std::lock_guard<std::mutex> l(mu_);
  ring_ = std::move(fresh).value();
  mtime_ = mtime;
  ++generation_;
  return devices_changed;
}

}  // namespace replicant
