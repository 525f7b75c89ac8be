// PassObserver: what a replication pass tells the operations side (statsd, the
// progress file, the systemd watchdog) while it runs. The pass calls these hooks from
// its worker threads, so implementations must be thread-safe and quick; they must not
// call back into the pass. The default implementations ignore everything.
#pragma once

#include <string>
#include <vector>

#include "replicator/job_list.h"
#include "replicator/stats.h"

namespace replicant {

// Priority jobs (priority_jobs.h): the current run, and totals since the daemon started.
struct PriorityProgress {
  bool running = false;
  double start = 0;          // unix time the current (or last) run started
  size_t total = 0, done = 0, failed = 0;  // jobs of the current (or last) run
  uint64_t bytes = 0;                      // sent by the current (or last) run
  size_t done_all = 0, failed_all = 0;     // since start-up
  uint64_t bytes_all = 0;
};

class PassObserver {
 public:
  virtual ~PassObserver() = default;
  // The jobs were collected (in the order they will run); nothing has run yet.
  virtual void PassStarted(const JobList& jobs) {}
  virtual void JobStarted(const PartitionJob& job) {}
  // The job is over (also when its drive was gone); `seconds` it took.
  virtual void JobFinished(const PartitionJob& job, double seconds) {}
  // The job's partition was locked by someone else (an incoming SSYNC or REPCONN); the
  // job is skipped for this pass.
  virtual void PartitionLockFailed(const PartitionJob& job) {}
  // One update of `device`'s counters (under the StatsBook's lock: be quick).
  virtual void StatsChanged(const std::string& device, const ReplicationStats& before,
                            const ReplicationStats& after) {}
  // Priority jobs started, one finished, or the run ended.
  virtual void PriorityChanged(const PriorityProgress& p) {}
};

// Calls JobStarted now and JobFinished when it goes out of scope.
class ObservedJob {
 public:
  ObservedJob(PassObserver* o, const PartitionJob& job);
  ~ObservedJob();
  ObservedJob(const ObservedJob&) = delete;
  ObservedJob& operator=(const ObservedJob&) = delete;

 private:
  PassObserver* o_;
  const PartitionJob& job_;
  double start_;
};

// Forwards every hook to each observer, in order.
class ObserverList : public PassObserver {
 public:
  void Add(PassObserver* o) { if (o) list_.push_back(o); }
  void PassStarted(const JobList& jobs) override;
  void JobStarted(const PartitionJob& job) override;
  void JobFinished(const PartitionJob& job, double seconds) override;
  void PartitionLockFailed(const PartitionJob& job) override;
  void StatsChanged(const std::string& device, const ReplicationStats& before,
                    const ReplicationStats& after) override;
  void PriorityChanged(const PriorityProgress& p) override;

 private:
  std::vector<PassObserver*> list_;
};

}  // namespace replicant
