// ReplicationStats: the counters of one replication pass, per local device, with
// Swift's names (attempted, failure, hashmatch, remove, rsync, success, suffix_count,
// suffix_hash, suffix_sync, failure_nodes), and the recon cache that publishes them.
//
// StatsBook is shared by all worker threads of a pass; every method locks. An
// optional observer sees each update (before/after) under that lock.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace replicant {

struct ReplicationStats {
  int64_t attempted = 0, failure = 0, hashmatch = 0, remove = 0, rsync = 0, success = 0,
          suffix_count = 0, suffix_hash = 0, suffix_sync = 0;
  // replicant's own: what the sync backends reported sending (not in Swift's recon)
  uint64_t files_sent = 0, bytes_sent = 0;
  // replicant's own: times the device's jobs were cancelled for lockup_timeout
  int64_t lockups = 0;
  // replication_ip -> device -> failures
  std::map<std::string, std::map<std::string, int64_t>> failure_nodes;

  void Add(const ReplicationStats& o);
  // Swift's add_failure_stats: one failure per (ip, device).
  void AddFailures(const std::set<std::pair<std::string, std::string>>& nodes);
  nlohmann::json ToRecon() const;
  // ToRecon() plus files_sent, bytes_sent and lockups, for the progress file.
  nlohmann::json ToProgress() const;
};

class StatsBook {
 public:
  using Observer = std::function<void(const std::string& device, const ReplicationStats& before,
                                      const ReplicationStats& after)>;
  // Before the pass starts; called for every Update afterwards.
  void SetObserver(Observer o) { observer_ = std::move(o); }
  // Runs f(stats of `device`) under the lock.
  template <typename F>
  void Update(const std::string& device, F&& f) {
    std::lock_guard<std::mutex> l(mu_);
    ReplicationStats& s = per_device_[device];
    if (!observer_) {
      f(s);
      return;
    }
    ReplicationStats before = s;
    f(s);
    observer_(device, before, s);
  }
  ReplicationStats Total() const;
  std::map<std::string, ReplicationStats> PerDevice() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ReplicationStats> per_device_;
  Observer observer_;
};

// Swift's dump_recon_cache: merges `update` into the JSON object in `cache_file`
// (nested dicts merged one level, an empty dict deletes the key) under an flock on
// the file, written through a temp file and rename.
Status DumpReconCache(const nlohmann::json& update, const std::string& cache_file);
// Swift's load_recon_cache: the file's JSON object, or {} when it is missing or unreadable.
nlohmann::json LoadReconCache(const std::string& cache_file);

}  // namespace replicant
