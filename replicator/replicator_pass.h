// Replicator::Pass: the state of one replication pass, shared by its worker threads,
// and the two kinds of partition job it runs (Swift's update and update_deleted).
// Private to the replicator: replicator.cc runs the pass, update_job.cc and
// handoff_job.cc hold the jobs. Thread-safety: as the members say; jobs of one pass run
// on several threads at once, never two on one partition.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "diskfile/handoff_cleanup.h"
#include "replicator/job_pipeline.h"
#include "replicator/lockup_watch.h"
#include "replicator/partition_survey.h"
#include "replicator/replicator.h"

namespace replicant {

using Clock = std::chrono::steady_clock;
using NodeSet = std::set<std::pair<std::string, std::string>>;  // (replication_ip, device)

inline std::string NodeName(const Device& d) {
  return fmt::format("{}:{}/{}", d.replication_ip, d.replication_port, d.device);
}

inline std::string PeerNames(const std::vector<Device>& nodes) {
  std::string out;
  for (const auto& d : nodes) out += (out.empty() ? "" : ",") + NodeName(d);
  return out.empty() ? "-" : out;
}

inline std::string JobName(const PartitionJob& j) {
  return fmt::format("{}/{} partition {}", j.sync.device, j.sync.policy_index, j.sync.partition);
}

// State of one pass, shared by its worker threads.
class Replicator::Pass {
 public:
  // concurrency: worker threads (0: the config's concurrency); observer: the hooks
  // (nullptr: the replicator's).
  Pass(Replicator& r, std::vector<PartitionJob> jobs, StatsBook& stats, LockupWatch& lockups,
       int concurrency = 0, PassObserver* observer = nullptr)
      : r_(r), concurrency_(concurrency > 0 ? concurrency : r.cfg_.concurrency),
        observer_(observer ? observer : r.observer_),
        jobs_(std::move(jobs)), claims_(new std::atomic<int>[jobs_.size()]()),
        stats_(stats), lockups_(lockups), start_(Clock::now()),
        next_ring_check_(start_ + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(r.cfg_.ring_check_interval))) {}

  // Runs jobs [begin, end) on the worker pool; returns false when the pass aborted.
  bool RunJobs(size_t begin, size_t end);
  // One worker of RunJobs: takes windows of jobs until none is left.
  void Work(size_t end);
  // A worker added after a lockup: runs, one at a time, the jobs of [begin, end) no
  // other worker has started (those in a stuck worker's window included).
  void Rescue(size_t begin, size_t end);
  // Skips (and accounts for) a job whose drive is unmounted or whose partition path is
  // a file (removed); true when the job can run.
  bool Ready(const PartitionJob& job);
  hashes::GetHashesOptions SurveyOptions() const {
    hashes::GetHashesOptions o;
    o.reclaim_age = r_.cfg_.reclaim_age;
    return o;
  }
  // An update job between its stages: the peers compared, the syncs still to run.
  struct UpdatePlan {
    NodeSet targets, failures;
    std::vector<sync::PeerSync> deferred;  // a fan-out backend's syncs, run by SyncPlanned
    size_t suffix_count = 0;
  };
  // Compares the partition with its peers (syncing each in turn unless the backend
  // fans out). `survey`: the job's first look, taken with its window; null to take it now.
  UpdatePlan PlanUpdate(const PartitionJob& job, Survey* survey);
  // Runs the plan's deferred syncs and books the job's stats.
  void SyncPlanned(const PartitionJob& job, UpdatePlan plan);
  // Completes one peer's sync (fallback, rehash request, stats, log line); false and
  // the peer added to *failures when it failed.
  bool FinishSync(const PartitionJob& job, const Device& node,
                  const std::vector<std::string>& suffixes, sync::SyncResult result,
                  NodeSet* failures);
  void UpdateDeleted(const PartitionJob& job);
  // Syncs a listed handoff partition to its primaries and removes what they hold;
  // true when the partition itself went.
  bool RevertHandoff(const PartitionJob& job, const std::vector<std::string>& suffixes,
                     const diskfile::HandoffSnapshot& snapshot, NodeSet* failures);
  // After a backend's sync to one node: ssync for a peer that does not speak the
  // backend's protocol, then the REPLICATE rehash request where the backend needs one.
  // `strict`: a failed rehash request fails the sync (handoffs must not be removed).
  // `check_objs`: the sync was a check of these objects (the fallback checks too).
  sync::SyncResult Complete(const PartitionJob& job, const Device& node,
                            const std::vector<std::string>& suffixes, sync::SyncResult result,
                            bool strict, const std::set<std::string>* check_objs = nullptr);
  void ProgressLoop();
  void StopProgress() {
    { std::lock_guard<std::mutex> l(mu_); done_ = true; }
    cv_.notify_all();
  }
  void LogProgress();

  size_t done() const { return done_jobs_; }
  size_t handoffs_remaining() const { return handoffs_remaining_; }
  const std::vector<PartitionJob>& jobs() const { return jobs_; }
  bool aborted() const { return aborted_; }

 private:
  bool RingChanged();
  // Runs one job of a worker's window (its update survey, if any, in `survey`) on
  // `stages`.
  void RunJob(const PartitionJob& job, Survey* survey, StagePipeline& stages);
  // Cancels the devices LockupWatch finds stuck: a log line and a count each; returns
  // how many worker threads to add so that the other devices go on.
  int CancelLockedUp();
  // Tells the LockupWatch where `job`'s work is (peer: "-" for local work).
  void Where(const PartitionJob& job, const std::string& peer) {
    lockups_.Where(job.sync.device,
                   fmt::format("{} policy {}", job.sync.partition, job.sync.policy_index), peer);
  }

  // A job's claim: kFree, kWindow (in a worker's window, not started: a rescuer may
  // take it) or kTaken (one worker runs or skipped it). Each job runs at most once.
  enum Claim : int { kFree = 0, kWindow = 1, kTaken = 2 };
  bool TryClaim(size_t i, int from, int to) { return claims_[i].compare_exchange_strong(from, to); }

  Replicator& r_;
  const int concurrency_;
  PassObserver* const observer_;
  std::vector<PartitionJob> jobs_;
  std::unique_ptr<std::atomic<int>[]> claims_;
  StatsBook& stats_;
  LockupWatch& lockups_;
  Clock::time_point start_;
  std::mutex ring_mu_;
  Clock::time_point next_ring_check_;
  std::atomic<size_t> next_job_{0};
  std::atomic<size_t> done_jobs_{0};
  std::atomic<size_t> handoffs_remaining_{0};
  std::atomic<bool> aborted_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::mutex times_mu_;
  std::vector<double> partition_times_;
};

}  // namespace replicant
