// Replicator::RunPriorityJobs: the queued priority jobs (receiver/priority_job.h) of this
// node's devices, run as update jobs restricted to the devices they name, ahead of the
// shuffled pass. An update job never removes the partition, so a priority job on a
// handoff leaves it for the normal revert rules.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "ops/priority_job.h"
#include "replicator/local_devices.h"
#include "replicator/replicator_pass.h"
#include "diskfile/drive.h"
#include "diskfile/layout.h"

namespace replicant {
namespace {

using ops::PriorityJob;
using ops::PriorityTarget;

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The ring devices a job names; an error when one is not in the ring (yet).
Result<std::vector<Device>> ResolveTargets(const Ring& ring, const PriorityJob& job,
                                           int local_id) {
  std::vector<Device> out;
  for (const PriorityTarget& t : job.to_devices) {
    const Device* found = nullptr;
    if (t.id) {
      found = ring.device(*t.id);
    } else {
      std::string ip = CanonicalIp(t.ip);
      for (const auto& d : ring.devices()) {
        if (d && d->device == t.device && d->replication_port == t.port &&
            CanonicalIp(d->replication_ip) == ip) {
          found = &*d;
          break;
        }
      }
    }
    if (!found) return Status::NotFound("target " + t.ToString() + " is not in the ring");
    if (found->id == local_id) continue;  // it is here already
    if (std::none_of(out.begin(), out.end(), [&](const Device& d) { return d.id == found->id; })) {
      out.push_back(*found);
    }
  }
  return out;
}

struct Queued {
  std::string path;
  PriorityJob job;
  std::string error;  // why it cannot run; empty when it is in `jobs`
  size_t index = 0;   // in the job list
  double started = 0;
};

using LocalMap = std::map<std::string, std::map<int, std::pair<const PolicyRing*, const Device*>>>;

// device -> policy -> (ring, the local device), for this node's devices.
LocalMap LocalDevicesByPolicy(const std::vector<PolicyRing>& rings, const ReplicatorConfig& cfg,
                              const PassOverrides& overrides) {
  std::vector<std::string> ips = WhatAreMyIps(cfg.ring_ip);
  LocalMap local;
  for (const auto& pr : rings) {
    for (const auto& d : pr.ring->devices()) {
      if (!d || !IsLocalDevice(ips, cfg.bind_port, *d)) continue;
      if (overrides.devices && !overrides.devices->count(d->device)) continue;
      local[d->device][pr.policy.index] = {&pr, &*d};
    }
  }
  return local;
}

void DropJobFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::error("unlink {}: {}", path, strerror(errno));
  }
}

// One queued job file of device `dev` (whose path is `drive`): appended to *queued
// (and, when it can run, its update job to *jobs), or dropped when nothing is left to do.
void AddQueued(const std::string& dev, const std::string& drive,
               const std::map<int, std::pair<const PolicyRing*, const Device*>>& policies,
               ops::QueuedPriorityJob f, std::vector<Queued>* queued,
               std::vector<PartitionJob>* jobs) {
  PriorityJob& pj = *f.job;
  Queued q{f.path, pj, "", 0, 0};
  auto it = policies.find(pj.policy);
  if (it == policies.end()) {
    q.error = fmt::format("policy {} has no ring here with device {}", pj.policy, dev);
    queued->push_back(std::move(q));
    return;
  }
  const auto [pr, me] = it->second;
  std::string obj_path = diskfile::DataDirOn(drive, pr->policy.index);
  std::string part = std::to_string(pj.partition);
  std::string part_path = diskfile::PartitionDirOn(drive, pr->policy.index, part);
  auto targets = ResolveTargets(*pr->ring, pj, me->id);
  struct stat st;
  if (pj.partition >= pr->ring->partition_count()) {
    q.error = fmt::format("partition {} is not in the ring", pj.partition);
  } else if (!targets.ok()) {
    q.error = targets.status().message();
  } else if (stat(part_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    // Gone since it was queued (reverted by a pass): nothing left to push.
    spdlog::info("Priority job {} policy {} partition {}: partition gone, job dropped", dev,
                 pj.policy, pj.partition);
    return DropJobFile(f.path);
  } else if (targets->empty()) {
    spdlog::info("Priority job {} policy {} partition {}: every target is this device, job "
                 "dropped", dev, pj.policy, pj.partition);
    return DropJobFile(f.path);
  } else {
    PartitionJob job;
    job.partition = pj.partition;
    job.local_dev_id = me->id;
    job.nodes = std::move(*targets);
    job.ring = pr->ring;
    job.sync.device = dev;
    job.sync.partition = part;
    job.sync.policy_index = pj.policy;
    job.sync.obj_path = obj_path;
    job.sync.path = part_path;
    job.sync.region = me->region;
    job.priority = std::make_shared<PriorityOutcome>();
    q.index = jobs->size();
    jobs->push_back(std::move(job));
  }
  queued->push_back(std::move(q));
}

// Counts a priority run's jobs as they finish, so the progress file shows a long run
// (a restored device) move. Job hooks are not forwarded: they would count in the
// partitions of the shuffled pass, which may be running (the counters still are, through
// the run's StatsBook, and keep the watchdog fed).
class PriorityWatch : public PassObserver {
 public:
  PriorityWatch(PassObserver* inner, PriorityProgress p) : inner_(inner), p_(p) {}
  void JobFinished(const PartitionJob& job, double) override {
    if (!inner_ || !job.priority) return;
    std::lock_guard<std::mutex> l(mu_);
    bool ok = job.priority->ran && !job.priority->failed;
    (ok ? p_.done : p_.failed)++;
    p_.bytes += job.priority->bytes;
    inner_->PriorityChanged(p_);
  }

 private:
  PassObserver* inner_;
  std::mutex mu_;
  PriorityProgress p_;
};

}  // namespace

size_t Replicator::RunPriorityJobs(const PassOverrides& overrides) {
  std::vector<Queued> queued;
  std::vector<PartitionJob> jobs;
  for (const auto& [dev, policies] : LocalDevicesByPolicy(rings_, cfg_, overrides)) {
    auto drive = diskfile::CheckDrive(cfg_.devices, dev, cfg_.mount_check);
    if (!drive.ok()) continue;  // the pass logs it
    auto files = ops::ListPriorityJobs(cfg_.devices, dev);
    if (!files.ok()) {
      spdlog::error("Priority jobs of {}: {}", dev, files.status().message());
      continue;
    }
    for (auto& f : *files) {
      if (!f.job.ok()) {
        spdlog::error("Ignoring priority job: {}", f.job.status().message());
        continue;
      }
      if (overrides.partitions && !overrides.partitions->count(static_cast<int>(f.job->partition))) continue;
      if (overrides.policies && !overrides.policies->count(f.job->policy)) continue;
      AddQueued(dev, *drive, policies, std::move(f), &queued, &jobs);
    }
  }
  if (queued.empty()) return 0;
  const size_t runnable = jobs.size();
  priority_.running = true;
  priority_.start = WallNow();
  priority_.total = queued.size();
  priority_.done = priority_.failed = 0;
  priority_.bytes = 0;
  if (observer_) observer_->PriorityChanged(priority_);
  spdlog::info("Starting priority replication: {} jobs ({} runnable) with sync_method={}, "
               "priority_concurrency {}", queued.size(), runnable, backends_.primary->name(),
               cfg_.priority_concurrency ? cfg_.priority_concurrency : cfg_.concurrency);
  auto t0 = std::chrono::steady_clock::now();
  if (runnable > 0) {
    StatsBook stats;
    LockupWatch lockups(cfg_.lockup_timeout);
    WatchStats(stats, lockups);
    PriorityWatch watch(observer_, priority_);
    Pass pass(*this, JobList(jobs), stats, lockups, cfg_.priority_concurrency, &watch);
    pass.RunJobs(0, runnable);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& q : queued) {
    FinishPriorityJob(q.path, &q.job, q.error.empty() ? &jobs[q.index] : nullptr, q.error);
    if (observer_) observer_->PriorityChanged(priority_);
  }
  priority_.running = false;
  if (observer_) observer_->PriorityChanged(priority_);
  spdlog::info("Priority replication: {} done, {} failed, {} bytes in {:.2f}s", priority_.done,
               priority_.failed, priority_.bytes, seconds);
  return runnable;
}

void Replicator::FinishPriorityJob(const std::string& path, ops::PriorityJob* pj,
                                   const PartitionJob* job, const std::string& error) {
  bool ok = job && job->priority->ran && !job->priority->failed;
  uint64_t bytes = job ? job->priority->bytes.load() : 0;
  std::string peers = job ? PeerNames(job->nodes) : "-";
  priority_.bytes += bytes;
  priority_.bytes_all += bytes;
  if (ok) {
    priority_.done++;
    priority_.done_all++;
    DropJobFile(path);
    spdlog::info("Priority job {} policy {} partition {} to {}: done ({} bytes)",
                 pj->from_device, pj->policy, pj->partition, peers, bytes);
    return;
  }
  priority_.failed++;
  priority_.failed_all++;
  pj->retries++;
  pj->last_error = !error.empty()        ? error
                   : job->priority->ran ? "a sync failed"
                                        : "not run (drive unusable or pass stopped)";
  Status st = ops::StorePriorityJob(cfg_.devices, *pj);
  spdlog::error("Priority job {} policy {} partition {} to {}: failed, kept for retry {} ({}){}",
                pj->from_device, pj->policy, pj->partition, peers, pj->retries,
                pj->last_error, st.ok() ? "" : "; could not update the job file: " + st.message());
}

void Replicator::MaybeRunPriorityJobs() {
  std::unique_lock<std::mutex> l(priority_mu_, std::try_to_lock);
  if (!l.owns_lock()) return;  // another worker is running them
  auto now = std::chrono::steady_clock::now();
  if (now < next_priority_check_) return;
  next_priority_check_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(cfg_.ring_check_interval));
  RunPriorityJobs(pass_overrides_);
}

}  // namespace replicant
