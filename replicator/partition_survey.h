// PartitionSurvey: the first look of an update (primary partition) job, taken for a
// window of jobs at once: the local suffix hashes, and every primary peer's answer
// to REPLICATE.
//
// Swift's replicator takes these steps partition by partition, so on an idle pass
// the replicator and its peers spend most of the time waiting on each other.
// SurveyJobs sends the REPLICATE requests of every job in the window first, hashes
// those partitions locally while the peers answer, then collects the answers. Each
// request has its own http_timeout from the moment it was sent: a peer that never
// answers costs the window one timeout, not one per partition. A survey goes stale:
// ComparePeers() uses one only if its job starts within kSurveyMaxAge of it, and asks again
// otherwise (an earlier job of the window may have spent minutes syncing).
//
// Thread-safety: SurveyJobs runs on one worker thread and uses that thread's
// connections; different workers survey different windows at once.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "hashes/partition_hashes.h"
#include "replicator/job_collector.h"
#include "replicator/lockup_watch.h"
#include "replicator/replicate_client.h"

namespace replicant {

constexpr std::chrono::seconds kSurveyMaxAge{10};
constexpr size_t kSurveyHashThreads = 4;
// The suffix hashes (local and peers' together) a window's surveys may hold, about 150
// bytes each: a partition holds up to 4,096 suffixes, so a full window of big
// partitions would otherwise keep 64 x 4,096 x 3 of them (~110 MB).
constexpr size_t kSurveySuffixBudget = 48 * 1024;
// A worker's first window, before any partition's size is known: a full window of the
// biggest partitions would pass the budget.
constexpr size_t kFirstSurveyWindow = 8;

struct Survey {
  std::chrono::steady_clock::time_point taken;  // when the requests went out
  Result<hashes::GetHashesResult> local = Status::Unavailable("not surveyed");
  std::vector<Device> nodes;                      // the job's primaries, shuffled
  std::vector<Result<ReplicateResponse>> answers;  // answers[i] is nodes[i]'s

  bool fresh(std::chrono::steady_clock::time_point now) const {
    return now - taken <= kSurveyMaxAge;
  }
};

// Whether a job does a full listdir of its partition this pass: Swift's
// (partition + replication_cycle) % 10 == 0, so one partition in ten each pass.
bool ListsThisPass(const PartitionJob& job, int replication_cycle);

// The primaries of `job`, in a random order (Swift shuffles them per job).
std::vector<Device> ShuffledNodes(const PartitionJob& job);

// Surveys every job in `jobs` (update jobs: job->sync.is_handoff is false). `base`
// carries reclaim_age and lock_timeout for the local GetHashes. The window's partitions
// are hashed on up to kSurveyHashThreads threads (their cold reads overlap);
// `watch_local` (may be empty) is called on the hashing thread before each one, and the
// token it returns is held while that partition is hashed (lockup accounting).
std::vector<Survey> SurveyJobs(
    const std::vector<const PartitionJob*>& jobs, const ReplicateClient& client,
    const hashes::GetHashesOptions& base, int replication_cycle,
    const std::function<LockupWatch::Busy(const PartitionJob&)>& watch_local = {});

// The next window for a worker whose last window's surveys are `last`: replicate_window
// (`max_window`) jobs, fewer when the partitions surveyed last held so many suffixes
// that a full window would pass kSurveySuffixBudget; never less than one.
size_t NextSurveyWindow(size_t max_window, const std::vector<Survey>& last);

}  // namespace replicant
