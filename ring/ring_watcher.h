// RingWatcher: a ring file plus the Ring most recently loaded from it.
//
// Swift's Ring reloads itself when the file's mtime changes, and the object replicator
// abandons a pass when the ring changed under it (check_ring -> has_changed). Here the
// reload is explicit: ReloadIfChanged() re-reads the file when its mtime differs from
// the loaded one and reports whether the device set changed; on a load error the old
// ring stays in service and the next call tries again. HasChangedOnDisk() is Swift's
// has_changed(), mtime only.
//
// Thread-safe: ring() may be called from any thread while another reloads; callers keep
// the shared_ptr they got for as long as they use that ring.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "ring/ring.h"

namespace replicant {

class RingWatcher {
 public:
  // Loads `path` now; fails (naming the file) if it cannot.
  static Result<std::unique_ptr<RingWatcher>> Open(const std::string& path);

  RingWatcher(const RingWatcher&) = delete;
  RingWatcher& operator=(const RingWatcher&) = delete;

  const std::string& path() const { return path_; }
  std::shared_ptr<const Ring> ring() const;
  // Bumped by every successful reload, so a caller can tell "a new ring" (e.g. after a
  // rebalance that kept the devices) from "the same ring".
  uint64_t generation() const;

  // When the file's mtime changed: loads it and returns whether the device set (ids,
  // holes, region, zone, ip, port, replication ip/port, device name) differs from the
  // previous ring's. False when nothing changed on disk. A load error keeps the old
  // ring and is returned (the mtime is not recorded, so the next call retries).
  Result<bool> ReloadIfChanged();

  // Swift's Ring.has_changed(): the file's mtime differs from the loaded ring's.
  Result<bool> HasChangedOnDisk() const;

 private:
  RingWatcher(std::string path, std::shared_ptr<const Ring> ring, struct timespec mtime)
      : path_(std::move(path)), ring_(std::move(ring)), mtime_(mtime) {}

  const std::string path_;
  std::mutex reload_mu_;  // one reload at a time; held across the (slow) load
  mutable std::mutex mu_;  // guards the fields below
  std::shared_ptr<const Ring> ring_;
  struct timespec mtime_;
  uint64_t generation_ = 0;
};

}  // namespace replicant
