// Replicator::Pass: the state of one replication pass, shared by its worker threads,
// and the two kinds of partition job it runs (Swift's update and update_deleted).
// Private to the replicator: replicator.cc runs the pass, update_job.cc and
// handoff_job.cc hold the jobs. Thread-safety: as the members say; jobs of one pass run
// on several threads at once, never two on one partition.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <optional>
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
  Pass(Replicator& r, JobList jobs, StatsBook& stats, LockupWatch& lockups,
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
  // Skips (and accounts for) a job whose drive is unmounted; true when the job can run. `drives` (may be null) keeps the drive
  // checks of one window: a window's jobs share few devices, so one stat each.
  using DriveChecks = std::map<std::string, Result<std::string>>;
  bool Ready(const PartitionJob& job, DriveChecks* drives = nullptr);
  hashes::GetHashesOptions SurveyOptions() const {
    hashes::GetHashesOptions o;
    o.reclaim_age = r_.cfg_.reclaim_age;
    o.want_dict = false;  // compared, never pickled
    return o;
  }
  // An update job between its stages (update_job.cc): the nodes compared so far, the
  // next round of syncs, and what the walk needs to go on to more nodes after it.
  struct UpdatePlan {
    struct Candidate {
      Device node;
      std::optional<Result<ReplicateResponse>> answer;  // a primary's, from the survey
    };
    NodeSet targets, failures;
    hashes::SuffixHashes local_hash;
    std::set<std::string> rehashed;     // suffixes rehashed for an earlier peer
    std::deque<Candidate> primaries;    // not walked yet
    std::unique_ptr<HandoffIterator> handoffs;  // made when a primary needs a stand-in
    size_t attempts_left = 0;
    std::set<int> synced_regions;       // remote regions a peer took the data to
    std::set<int> syncing_regions;      // remote regions with a sync in `round`
    std::vector<Candidate> waiting;     // behind a sync to their region in `round`
    std::vector<sync::PeerSync> round;  // the next SyncPeers() call
  };
  // The job's first stage: the local hashes (from `survey`, the job's first look taken
  // with its window; null to take it now), compared with the peers up to the first
  // round of syncs.
  UpdatePlan ComparePeers(const PartitionJob& job, Survey* survey);
  // Takes nodes (primaries, then handoffs for full peers) while attempts are left.
  void WalkNodes(const PartitionJob& job, UpdatePlan* plan);
  // One node of the walk: skipped when its remote region holds the data already, put
  // aside while a sync to its region is in the round, else compared and queued.
  void Consider(const PartitionJob& job, UpdatePlan* plan, UpdatePlan::Candidate c);
  // REPLICATE (or the survey's answer) and a rehash of what differs; the suffixes to
  // sync, none when the peer matches or failed (counted).
  std::vector<std::string> Compare(const PartitionJob& job, UpdatePlan* plan,
                                   UpdatePlan::Candidate c);
  // The job's second stage: the rounds of syncs, then the job's stats.
  void SyncRounds(const PartitionJob& job, UpdatePlan plan);
  // Completes one peer's sync (fallback, rehash request, stats, log line); its final
  // status, the peer added to *failures when it failed.
  Status FinishSync(const PartitionJob& job, const sync::PeerSync& peer,
                    sync::SyncResult result, NodeSet* failures);
  void UpdateDeleted(const PartitionJob& job);
  // Syncs a listed handoff partition to its primaries and removes what they hold;
  // true when the partition itself went.
  bool RevertHandoff(const PartitionJob& job, const std::vector<std::string>& suffixes,
                     const diskfile::HandoffSnapshot& snapshot, NodeSet* failures);
  // After a revert: removes the snapshot's files, only those `confirmed` when given;
  // true when the partition itself went.
  bool RemoveReverted(const PartitionJob& job, const diskfile::HandoffSnapshot& snapshot,
                      const diskfile::ConfirmedObjects* confirmed, NodeSet* failures);
  // Early handoff cleanup: drops an object every primary of the round holds
  // (SyncJob::on_held, during a fan-out backend's sync).
  void DropHeldObject(const PartitionJob& job, const sync::HeldObject& obj, int quorum);
  // After a backend's sync to one peer: the fallback backend for a peer that does not
  // speak the primary's protocol, then the REPLICATE rehash request where the backend
  // needs one. `strict`: a failed rehash request fails the sync (handoffs must not be
  // removed).
  sync::SyncResult FallBackAndRehash(const PartitionJob& job, const sync::PeerSync& peer,
                                     sync::SyncResult result, bool strict);
  void ProgressLoop();
  void StopProgress() {
    { std::lock_guard<std::mutex> l(mu_); done_ = true; }
    cv_.notify_all();
  }
  void LogProgress();

  size_t done() const { return done_jobs_; }
  size_t handoffs_remaining() const { return handoffs_remaining_; }
  const JobList& jobs() const { return jobs_; }
  bool aborted() const { return aborted_; }

 private:
  bool RingChanged();
  // Aborts the pass (a log line) when a ring changed; true then.
  bool AbortIfRingChanged();
  // Runs one job of a worker's window (its update survey, if any, in `survey`) on
  // `stages`.
  void RunJob(std::shared_ptr<const PartitionJob> job, Survey* survey, StagePipeline& stages);
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
  JobList jobs_;
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
