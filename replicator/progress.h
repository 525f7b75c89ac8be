// ProgressTracker: the replicator's live progress, per device and policy, published
// as a small JSON document (`<recon_cache_path>/replicant-progress.json`) that
// `replicant status`, `replicant serve`'s /progress and /metrics read.
//
// The document (version 1):
//   {"version":1, "pid", "updated" (unix time), "state" ("starting", "running", "idle",
//    "stopping"), "sync_method",
//    "pass": null | {"number", "start", "partitions_total", "partitions_done"},
//    "devices": {dev: {"partitions_total", "partitions_done", "handoffs_total",
//                      "pass_start", "last_update", "policies": {"<index>":
//                      {"partitions_total", "partitions_done"}}, "stats": {recon stats}}},
//    "failures_by_peer": {replication_ip: {device: failures}},
//    "last_pass": null | {"number", "start", "end", "seconds", "partitions", "aborted",
//                         "handoffs_remaining", "stats": {...}, "per_device": {dev: {...}}},
//    "priority": null | {"running", "start", "jobs_total", "jobs_done", "jobs_failed", "bytes",
//                        "done_all", "failed_all", "bytes_all"}}  (priority_jobs.cc; the
//    first five of the current or last run, the *_all since start-up)
// "stats" hold Swift's replication_stats plus files_sent and bytes_sent, what the
// sync backends reported sending.
//
// The file is rewritten whole through a temp file and rename, so readers never see a
// partial document: state changes at once, job progress at most once per min_interval
// by a small flusher thread of the tracker's own (so the last jobs before a stall
// still show). Thread-safe: the hooks run on worker threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "ops/progress_file.h"
#include "replicator/pass_observer.h"
#include "replicator/replicator.h"

namespace replicant {

class ProgressTracker : public PassObserver {
 public:
  ProgressTracker(std::string path, std::string sync_method, double min_interval = 1.0);
  ~ProgressTracker();
  ProgressTracker(const ProgressTracker&) = delete;
  ProgressTracker& operator=(const ProgressTracker&) = delete;

  void PassStarted(const JobList& jobs) override;
  void JobFinished(const PartitionJob& job, double seconds) override;
  void StatsChanged(const std::string& device, const ReplicationStats& before,
                    const ReplicationStats& after) override;
  // The pass RunPass returned: it becomes last_pass and the state "idle".
  void PassFinished(const PassSummary& summary);
  void PriorityChanged(const PriorityProgress& p) override;
  // "starting", "idle", "stopping"...; written at once.
  void SetState(const std::string& state);

  nlohmann::json Snapshot() const;
  const std::string& path() const { return path_; }

 private:
  struct Counts {
    int64_t total = 0, done = 0;
  };
  struct DeviceProgress {
    Counts all;
    int64_t handoffs = 0;
    std::map<int, Counts> policies;
    double last_update = 0;
    ReplicationStats stats;
  };
  nlohmann::json SnapshotLocked() const;
  void WriteLocked();
  void FlushLoop();

  const std::string path_;
  const std::string sync_method_;
  const double min_interval_;
  mutable std::mutex mu_;
  std::string state_ = "starting";
  int64_t pass_number_ = 0;
  bool in_pass_ = false;
  double pass_start_ = 0;
  std::map<std::string, DeviceProgress> devices_;
  nlohmann::json last_pass_;  // null until a pass ended
  nlohmann::json priority_;   // null until priority jobs ran
  bool dirty_ = false;
  bool warned_ = false;
  bool closing_ = false;
  std::condition_variable cv_;
  std::thread flusher_;  // last: starts after every member it uses
};

}  // namespace replicant
