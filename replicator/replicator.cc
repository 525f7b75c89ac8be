#include "replicator/replicator.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "replicator/backend_factory.h"
#include "replicator/job_pipeline.h"
#include "replicator/partition_survey.h"
#include "replicator/replicator_pass.h"
#include "diskfile/drive.h"

namespace replicant {

bool Replicator::Pass::RingChanged() {
  std::lock_guard<std::mutex> l(ring_mu_);
  if (Clock::now() < next_ring_check_) return false;
  next_ring_check_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(r_.cfg_.ring_check_interval));
  for (const auto& w : r_.watchers_) {
    auto changed = w->HasChangedOnDisk();
    if (changed.ok() && *changed) return true;
  }
  return false;
}

bool Replicator::Pass::AbortIfRingChanged() {
  if (!RingChanged()) return false;
  spdlog::info("Ring change detected. Aborting current replication pass.");
  aborted_ = true;
  return true;
}

bool Replicator::Pass::RunJobs(size_t begin, size_t end) {
  next_job_ = begin;
  int n = std::max(1, std::min<int>(concurrency_, static_cast<int>(end - begin)));
  std::mutex live_mu;
  std::condition_variable live_cv;
  int live = 0;
  std::vector<std::thread> threads;
  auto spawn = [&] {
    {
      std::lock_guard<std::mutex> l(live_mu);
      ++live;
    }
    bool rescue = !threads.empty() && threads.size() >= static_cast<size_t>(n);
    threads.emplace_back([&, begin, end, rescue] {
      if (rescue) Rescue(begin, end);
      else Work(end);
      std::lock_guard<std::mutex> l(live_mu);
      --live;
      live_cv.notify_all();
    });
  };
  for (int t = 0; t < n; ++t) spawn();
  // This thread watches for lockups while the workers run. A stuck worker is given a
  // replacement, so the other devices go on; it is joined when its call returns.
  const double timeout = lockups_.timeout();
  const auto tick = std::chrono::duration<double>(std::clamp(timeout / 4, 0.05, 1.0));
  std::unique_lock<std::mutex> l(live_mu);
  while (live > 0) {
    live_cv.wait_for(l, tick, [&] { return live == 0; });
    if (live == 0 || !lockups_.enabled()) continue;
    l.unlock();
    int more = CancelLockedUp();
    for (int i = 0; i < more; ++i) spawn();
    l.lock();
  }
  l.unlock();
  for (auto& t : threads) t.join();
  return !aborted_ && !r_.stop_;
}

int Replicator::Pass::CancelLockedUp() {
  int more = 0;
  for (const auto& lk : lockups_.Check()) {
    spdlog::error(
        "Lockup: device {} made no progress for {:.1f}s (lockup_timeout {}s; partition {}, "
        "peer {}); cancelling its jobs for this pass",
        lk.device, lk.seconds, lockups_.timeout(), lk.partition, lk.peer);
    stats_.Update(lk.device, [](ReplicationStats& s) { s.lockups++; });
    more += lk.busy;
  }
  return std::min(more, std::max(1, concurrency_));
}

void Replicator::Pass::Work(size_t end) {
  const size_t max_window = static_cast<size_t>(std::max(1, r_.cfg_.replicate_window));
  // The first window is a probe (no partition's size is known yet), later ones are as
  // wide as the partitions' suffixes allow (NextSurveyWindow).
  size_t window = std::min(max_window, kFirstSurveyWindow);
  // A worker takes `window` jobs at a time: their update jobs are surveyed together
  // (partition_survey.h), then every job runs in order.
  // A worker may sync earlier jobs while it prepares the next (job_pipeline.h), as
  // deep as its backends allow.
  StagePipeline stages(r_.backends_.pipeline_depth);
  for (;;) {
    if (aborted_ || r_.stop_) return;
    // Priority jobs queued since the pass started go ahead of the next window.
    if (!jobs_.empty() && !jobs_.priority()) r_.MaybeRunPriorityJobs();
    size_t first = next_job_.fetch_add(window);
    if (first >= end) return;
    size_t last = std::min(end, first + window);
    std::vector<std::pair<size_t, std::shared_ptr<const PartitionJob>>> ready;
    DriveChecks drives;
    for (size_t i = first; i < last; ++i) {
      if (!TryClaim(i, kFree, kTaken)) continue;  // a rescuer has it
      if (lockups_.Cancelled(jobs_.device(i))) {
        ++done_jobs_;
        continue;
      }
      auto job = jobs_.Get(i);
      if (Ready(*job, &drives)) {
        claims_[i] = kWindow;
        ready.emplace_back(i, std::move(job));
      } else {
        ++done_jobs_;
      }
    }
    std::vector<const PartitionJob*> updates;
    for (const auto& [i, job] : ready) {
      if (!job->sync.is_handoff) updates.push_back(job.get());
    }
    std::vector<Survey> surveys;
    if (max_window > 1 && !updates.empty()) {
      // Busy on the device whose partition is being hashed, while it is.
      surveys = SurveyJobs(updates, r_.client_, SurveyOptions(), r_.replication_cycle_,
                           [&](const PartitionJob& j) {
                             LockupWatch::Busy busy = lockups_.Enter(j.sync.device);
                             Where(j, "-");
                             return busy;
                           });
      window = NextSurveyWindow(max_window, surveys);
    }
    size_t next_survey = 0;
    for (auto& [i, job] : ready) {
      if (aborted_ || r_.stop_) return;
      Survey* survey = nullptr;
      if (!job->sync.is_handoff && next_survey < surveys.size()) survey = &surveys[next_survey++];
      if (!TryClaim(i, kWindow, kTaken)) continue;  // a rescuer ran it meanwhile
      if (lockups_.Cancelled(job->sync.device)) {
        ++done_jobs_;  // cancelled for this pass; the next pass tries again
        continue;
      }
      if (AbortIfRingChanged()) return;
      RunJob(std::move(job), survey, stages);
    }
  }
}

void Replicator::Pass::Rescue(size_t begin, size_t end) {
  StagePipeline stages(r_.backends_.pipeline_depth);
  for (size_t i = begin; i < end; ++i) {
    if (aborted_ || r_.stop_) return;
    auto job = jobs_.Get(i);
    bool ready;
    if (TryClaim(i, kWindow, kTaken)) ready = true;  // Ready() passed in its window
    else if (TryClaim(i, kFree, kTaken)) ready = !lockups_.Cancelled(job->sync.device) && Ready(*job);
    else continue;
    if (!ready || lockups_.Cancelled(job->sync.device)) {
      ++done_jobs_;
      continue;
    }
    if (AbortIfRingChanged()) return;
    RunJob(std::move(job), nullptr, stages);
  }
}

// The job's stages hold `job_ptr`: the job lives until its last stage is done.
void Replicator::Pass::RunJob(std::shared_ptr<const PartitionJob> job_ptr, Survey* survey,
                              StagePipeline& stages) {
  const PartitionJob& job = *job_ptr;
  auto busy = std::make_shared<LockupWatch::Busy>(lockups_.Enter(job.sync.device));
  Where(job, "-");
  // The deleter holds the job: JobFinished sees it whatever order the captures go in.
  std::shared_ptr<ObservedJob> observed(new ObservedJob(observer_, job),
                                        [job_ptr](ObservedJob* o) { delete o; });
  auto begin_t = Clock::now();
  std::function<void()> stage;
  bool syncs = true;
  if (job.sync.is_handoff) {
    stage = [this, job_ptr] { UpdateDeleted(*job_ptr); };
  } else {
    auto plan = std::make_shared<UpdatePlan>(
        ComparePeers(job, survey && survey->fresh(begin_t) ? survey : nullptr));
    syncs = !plan->round.empty();
    stage = [this, job_ptr, plan] { SyncRounds(*job_ptr, std::move(*plan)); };
  }
  auto finish = [this, job_ptr, stage = std::move(stage), observed = std::move(observed),
                 busy = std::move(busy), begin_t] {
    stage();
    {
      std::lock_guard<std::mutex> l(times_mu_);
      partition_times_.push_back(std::chrono::duration<double>(Clock::now() - begin_t).count());
    }
    lockups_.Progress(job_ptr->sync.device);
    busy->Reset();
    ++done_jobs_;
  };
  // Nothing to sync (an idle pass's usual job): no thread for it.
  if (syncs) stages.Submit(std::move(finish));
  else finish();
}

bool Replicator::Pass::Ready(const PartitionJob& job, DriveChecks* drives) {
  DriveChecks own;
  if (!drives) drives = &own;
  auto found = drives->find(job.sync.device);
  if (found == drives->end()) {
    found = drives->emplace(job.sync.device, diskfile::CheckDrive(r_.cfg_.devices, job.sync.device,
                                                                  r_.cfg_.mount_check)).first;
  }
  const Result<std::string>& drive = found->second;
  if (!drive.ok()) {
    ObservedJob observed(observer_, job);
    NodeSet nodes;
    for (const auto& n : job.nodes) nodes.emplace(n.replication_ip, n.device);
    stats_.Update(job.sync.device, [&](ReplicationStats& s) { s.AddFailures(nodes); });
    spdlog::warn("{}", drive.status().message());
    return false;
  }
  return true;  // a file in a partition's place went at collection (job_collector.cc)
}

void Replicator::Pass::LogProgress() {
  ReplicationStats s = stats_.Total();
  double elapsed = std::max(1e-6, std::chrono::duration<double>(Clock::now() - start_).count());
  size_t total = jobs_.size();
  size_t done = s.attempted;
  if (done == 0) {
    spdlog::info("Nothing replicated for {:.2f} seconds.", elapsed);
    return;
  }
  double rate = done / elapsed;
  double eta = rate > 0 ? (total - std::min(total, done)) / rate : 0;
  spdlog::info(
      "{}/{} ({:.2f}%) partitions replicated in {:.2f}s ({:.2f}/sec, {:.0f}s remaining)", done,
      total, total ? done * 100.0 / total : 100.0, elapsed, rate, eta);
  spdlog::info("{} successes, {} failures", s.success, s.failure);
  if (s.suffix_count) {
    spdlog::info("{} suffixes checked - {:.2f}% hashed, {:.2f}% synced", s.suffix_count,
                 s.suffix_hash * 100.0 / s.suffix_count, s.suffix_sync * 100.0 / s.suffix_count);
    std::vector<double> times;
    {
      std::lock_guard<std::mutex> l(times_mu_);
      times = partition_times_;
    }
    if (!times.empty()) {
      std::sort(times.begin(), times.end());
      spdlog::info("Partition times: max {:.4f}s, min {:.4f}s, med {:.4f}s", times.back(),
                   times.front(), times[times.size() / 2]);
    }
  }
}

void Replicator::Pass::ProgressLoop() {
  std::unique_lock<std::mutex> l(mu_);
  auto interval = std::chrono::duration<double>(r_.cfg_.stats_interval);
  while (!cv_.wait_for(l, interval, [&] { return done_; })) {
    l.unlock();
    LogProgress();
    l.lock();
  }
}

Replicator::Replicator(ReplicatorConfig cfg, SwiftConf swift,
                       SyncBackends backends, sync::Throttle throttle)
    : cfg_(std::move(cfg)),
      swift_(std::move(swift)),
      backends_(std::move(backends)),
      throttle_(std::move(throttle)),
      client_(ReplicateTimeouts{cfg_.conn_timeout, cfg_.http_timeout}),
      replication_cycle_(static_cast<int>(std::random_device{}() % 10)) {}

Replicator::~Replicator() = default;

Status Replicator::LoadRings() {
  rings_.clear();
  watchers_.clear();
  for (const auto& policy : swift_.policies) {
    if (policy.type != "replication") {
      spdlog::info("Skipping policy {} ({}): {} is not replicated by this daemon", policy.index,
                   policy.name, policy.type);
      continue;
    }
    std::string path = cfg_.swift_dir + "/" + policy.ring_name() + ".ring.gz";
    auto w = RingWatcher::Open(path);
    if (!w.ok()) return w.status().WithContext("policy " + std::to_string(policy.index));
    rings_.push_back(PolicyRing{policy, path, (*w)->ring()});
    watchers_.push_back(std::move(*w));
  }
  return Status::OK();
}

PassSummary Replicator::RunPass(const PassOverrides& overrides) {
  PassSummary summary;
  auto t0 = Clock::now();
  replication_cycle_ = (replication_cycle_ + 1) % 10;
  // Pick up ring changes between passes, as Swift's rings reload themselves.
  for (size_t i = 0; i < watchers_.size(); ++i) {
    auto changed = watchers_[i]->ReloadIfChanged();
    if (!changed.ok()) {
      spdlog::error("Keeping the previous ring: {}", changed.status().message());
    } else if (*changed) {
      spdlog::info("Loaded changed ring {}", watchers_[i]->path());
    }
    rings_[i].ring = watchers_[i]->ring();
  }
  // Priority jobs (moveparts, restore-device) go ahead of the shuffled jobs.
  {
    std::lock_guard<std::mutex> l(priority_mu_);
    pass_overrides_ = overrides;
    next_priority_check_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(cfg_.ring_check_interval));
    RunPriorityJobs(overrides);
  }
  StatsBook stats;
  LockupWatch lockups(cfg_.lockup_timeout);
  WatchStats(stats, lockups);
  CollectOptions copts;
  copts.devices_dir = cfg_.devices;
  copts.mount_check = cfg_.mount_check;
  copts.ring_ip = cfg_.ring_ip;
  copts.port = cfg_.bind_port;
  copts.reclaim_age = cfg_.reclaim_age;
  copts.handoffs_first = cfg_.handoffs_first;
  copts.override_devices = overrides.devices;
  copts.override_partitions = overrides.partitions;
  copts.override_policies = overrides.policies;
  std::mt19937_64 rng{std::random_device{}()};
  auto jobs = CollectJobs(rings_, copts, stats, rng);
  size_t handoff_jobs = 0;
  for (size_t i = 0; i < jobs.size(); ++i) handoff_jobs += jobs.is_handoff(i);
  spdlog::info("Starting replication pass: {} partitions ({} handoffs) with sync_method={}",
               jobs.size(), handoff_jobs, backends_.primary->name());
  Pass pass(*this, std::move(jobs), stats, lockups);
  if (observer_) observer_->PassStarted(pass.jobs());
  std::thread progress([&] { pass.ProgressLoop(); });
  bool completed;
  if (cfg_.handoffs_first) {
    // Handoffs sort first; primaries wait until every handoff is gone, as in Swift.
    completed = pass.RunJobs(0, handoff_jobs);
    if (completed && pass.handoffs_remaining() > 0 && handoff_jobs < pass.jobs().size()) {
      spdlog::warn("Handoffs first mode still has handoffs remaining.  Aborting current "
                   "replication pass.");
      completed = false;
    } else if (completed) {
      completed = pass.RunJobs(handoff_jobs, pass.jobs().size());
    }
  } else {
    completed = pass.RunJobs(0, pass.jobs().size());
  }
  pass.StopProgress();
  progress.join();
  pass.LogProgress();
  summary.total = stats.Total();
  summary.per_device = stats.PerDevice();
  summary.jobs = pass.jobs().size();
  summary.handoffs_remaining = pass.handoffs_remaining();
  summary.aborted = !completed;
  summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto& t = summary.total;
  spdlog::info(
      "Replication pass {}: {} partitions in {:.2f}s; attempted {}, success {}, failure {}, "
      "hashmatch {}, syncs {}, suffixes synced {}, handoffs removed {}, handoffs remaining {}",
      summary.aborted ? "aborted" : "complete", summary.jobs, summary.seconds, t.attempted,
      t.success, t.failure, t.hashmatch, t.rsync, t.suffix_sync, t.remove,
      summary.handoffs_remaining);
  return summary;
}

void Replicator::WatchStats(StatsBook& stats, LockupWatch& lockups) const {
  stats.SetObserver([o = observer_, &lockups](const std::string& dev,
                                              const ReplicationStats& before,
                                              const ReplicationStats& after) {
    lockups.Progress(dev);
    if (o) o->StatsChanged(dev, before, after);
  });
}

}  // namespace replicant
