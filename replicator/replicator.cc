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

#include "hashes/handoff_cleanup.h"
#include "hashes/partition_hashes.h"
#include "hashes/replication_lock.h"
#include "replicator/backend_factory.h"
#include "replicator/job_pipeline.h"
#include "replicator/partition_survey.h"
#include "sync_backends/ssync/ssync_backend.h"

namespace replicant {
namespace {

using Clock = std::chrono::steady_clock;
using NodeSet = std::set<std::pair<std::string, std::string>>;  // (replication_ip, device)

std::string NodeName(const Device& d) {
  return fmt::format("{}:{}/{}", d.replication_ip, d.replication_port, d.device);
}

std::string JobName(const PartitionJob& j) {
  return fmt::format("{}/{} partition {}", j.sync.device, j.sync.policy_index, j.sync.partition);
}

}  // namespace

// State of one pass, shared by its worker threads.
class Replicator::Pass {
 public:
  Pass(Replicator& r, std::vector<PartitionJob> jobs, StatsBook& stats)
      : r_(r), jobs_(std::move(jobs)), stats_(stats), start_(Clock::now()),
        next_ring_check_(start_ + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(r.cfg_.ring_check_interval))) {}

  // Runs jobs [begin, end) on the worker pool; returns false when the pass aborted.
  bool RunJobs(size_t begin, size_t end);
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
  // After a backend's sync to one node: ssync for a peer that does not speak the
  // backend's protocol, then the REPLICATE rehash request where the backend needs one.
  // `strict`: a failed rehash request fails the sync (handoffs must not be removed).
  sync::SyncResult Complete(const PartitionJob& job, const Device& node,
                            const std::vector<std::string>& suffixes, sync::SyncResult result,
                            bool strict);
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

  Replicator& r_;
  std::vector<PartitionJob> jobs_;
  StatsBook& stats_;
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

bool Replicator::Pass::RunJobs(size_t begin, size_t end) {
  next_job_ = begin;
  const size_t window = static_cast<size_t>(std::max(1, r_.cfg_.replicate_window));
  // A worker takes `window` jobs at a time: their update jobs are surveyed together
  // (partition_survey.h), then every job runs in order.
  // With a fan-out backend a worker syncs earlier jobs while it prepares the next
  // (job_pipeline.h); other backends sync peer by peer inside PlanUpdate.
  const int depth = r_.backend_->FansOut() ? r_.cfg_.pipeline_depth : 1;
  auto worker = [&] {
    StagePipeline stages(depth);
    for (;;) {
      if (aborted_ || r_.stop_) return;
      size_t first = next_job_.fetch_add(window);
      if (first >= end) return;
      size_t last = std::min(end, first + window);
      std::vector<size_t> ready;
      for (size_t i = first; i < last; ++i) {
        if (Ready(jobs_[i])) ready.push_back(i);
        else ++done_jobs_;
      }
      std::vector<const PartitionJob*> updates;
      for (size_t i : ready) {
        if (!jobs_[i].sync.is_handoff) updates.push_back(&jobs_[i]);
      }
      std::vector<Survey> surveys;
      if (window > 1 && !updates.empty()) {
        surveys = SurveyJobs(updates, r_.client_, SurveyOptions(), r_.replication_cycle_);
      }
      size_t next_survey = 0;
      for (size_t i : ready) {
        if (aborted_ || r_.stop_) return;
        const PartitionJob& job = jobs_[i];
        if (RingChanged()) {
          spdlog::info("Ring change detected. Aborting current replication pass.");
          aborted_ = true;
          return;
        }
        auto observed = std::make_shared<ObservedJob>(r_.observer_, job);
        auto begin_t = Clock::now();
        std::function<void()> stage;
        bool syncs = true;
        if (job.sync.is_handoff) {
          stage = [this, &job] { UpdateDeleted(job); };
        } else {
          Survey* survey = next_survey < surveys.size() ? &surveys[next_survey++] : nullptr;
          auto plan = std::make_shared<UpdatePlan>(
              PlanUpdate(job, survey && survey->fresh(begin_t) ? survey : nullptr));
          syncs = !plan->deferred.empty();
          stage = [this, &job, plan] { SyncPlanned(job, std::move(*plan)); };
        }
        auto finish = [this, stage = std::move(stage), observed = std::move(observed), begin_t] {
          stage();
          {
            std::lock_guard<std::mutex> l(times_mu_);
            partition_times_.push_back(
                std::chrono::duration<double>(Clock::now() - begin_t).count());
          }
          ++done_jobs_;
        };
        // Nothing to sync (an idle pass's usual job): no thread for it.
        if (syncs) stages.Submit(std::move(finish));
        else finish();
      }
    }
  };
  int n = std::max(1, std::min<int>(r_.cfg_.concurrency, static_cast<int>(end - begin)));
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return !aborted_ && !r_.stop_;
}

bool Replicator::Pass::Ready(const PartitionJob& job) {
  auto drive = CheckDrive(r_.cfg_.devices, job.sync.device, r_.cfg_.mount_check);
  if (!drive.ok()) {
    ObservedJob observed(r_.observer_, job);
    NodeSet nodes;
    for (const auto& n : job.nodes) nodes.emplace(n.replication_ip, n.device);
    stats_.Update(job.sync.device, [&](ReplicationStats& s) { s.AddFailures(nodes); });
    spdlog::warn("{}", drive.status().message());
    return false;
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(job.sync.path, ec)) {
    ObservedJob observed(r_.observer_, job);
    spdlog::warn("Removing partition directory which was a file: {}", job.sync.path);
    std::filesystem::remove(job.sync.path, ec);
    return false;
  }
  return true;
}

Replicator::Pass::UpdatePlan Replicator::Pass::PlanUpdate(const PartitionJob& job,
                                                          Survey* survey) {
  const std::string& dev = job.sync.device;
  stats_.Update(dev, [](ReplicationStats& s) { s.attempted++; });
  UpdatePlan plan;
  NodeSet& targets = plan.targets;
  NodeSet& failures = plan.failures;
  Survey own;
  if (!survey) {  // replicate_window 1, or the window's survey went stale
    own = std::move(SurveyJobs({&job}, r_.client_, SurveyOptions(), r_.replication_cycle_)[0]);
    survey = &own;
  }
  auto& local = survey->local;
  if (!local.ok()) {
    spdlog::error("Error syncing partition {}: {}", JobName(job), local.status().ToString());
    for (const auto& n : job.nodes) failures.emplace(n.replication_ip, n.device);
    return plan;  // no targets: the failures are all SyncPlanned books
  }
  hashes::SuffixHashes local_hash = local->hashes;
  stats_.Update(dev, [&](ReplicationStats& s) { s.suffix_hash += local->hashed; });

  // The primaries were asked at once; handoffs that stand in for a 507 are asked one
  // by one below.
  const std::vector<Device>& nodes = survey->nodes;
  auto& prefetched = survey->answers;
  HandoffIterator handoffs(*job.ring, job.partition);
  size_t next_primary = 0;
  size_t attempts_left = nodes.size();
  std::set<int> synced_remote_regions;
  std::set<std::string> rehashed;
  auto differing = [](const hashes::SuffixHashes& mine,
                      const std::map<std::string, std::string>& theirs) {
    std::vector<std::string> out;
    for (const auto& [suffix, h] : mine) {
      auto it = theirs.find(suffix);
      if (it == theirs.end() || it->second != h) out.push_back(suffix);
    }
    return out;
  };
  const bool fan_out = r_.backend_->FansOut();
  std::vector<sync::PeerSync>& deferred = plan.deferred;
  auto finish = [&](const Device& node, const std::vector<std::string>& suffixes,
                    sync::SyncResult result) {
    if (FinishSync(job, node, suffixes, std::move(result), &failures) &&
        node.region != job.sync.region) {
      synced_remote_regions.insert(node.region);
    }
  };
  while (attempts_left > 0) {
    Device node;
    std::optional<Result<ReplicateResponse>> answer;
    if (next_primary < nodes.size()) {
      answer = std::move(prefetched[next_primary]);
      node = nodes[next_primary++];
    } else {
      const Device* h = handoffs.Next();
      // Skip ourselves: a handoff list may contain the local device.
      while (h && h->id == job.local_dev_id) h = handoffs.Next();
      if (!h) {
        spdlog::error("Ran out of handoffs while replicating partition {} of policy {}",
                      job.sync.partition, job.sync.policy_index);
        break;
      }
      node = *h;
    }
    targets.emplace(node.replication_ip, node.device);
    attempts_left--;
    if (synced_remote_regions.count(node.region)) continue;
    ReplicatePeer peer{node.replication_ip, node.replication_port, node.device};
    auto resp = answer ? std::move(*answer)
                       : r_.client_.GetHashes(peer, job.sync.partition, job.sync.policy_index);
    if (!resp.ok()) {
      failures.emplace(node.replication_ip, node.device);
      spdlog::error("Error syncing {} with node {}: {}", JobName(job), NodeName(node),
                    resp.status().message());
      continue;
    }
    if (resp->http_status == 507) {
      spdlog::error("{}/{} responded as unmounted ({})", node.replication_ip, node.device,
                    JobName(job));
      attempts_left++;
      failures.emplace(node.replication_ip, node.device);
      continue;
    }
    if (resp->http_status != 200) {
      spdlog::error("Invalid response {} from {} ({})", resp->http_status, node.replication_ip,
                    JobName(job));
      failures.emplace(node.replication_ip, node.device);
      continue;
    }
    auto suffixes = differing(local_hash, resp->hashes);
    if (suffixes.empty()) {
      stats_.Update(dev, [](ReplicationStats& s) { s.hashmatch++; });
      continue;
    }
    // Rehash what differs before syncing it, as Swift does; a suffix rehashed for an
    // earlier peer of this job is not rehashed again.
    hashes::GetHashesOptions recalc;
    recalc.reclaim_age = r_.cfg_.reclaim_age;
    for (const auto& sfx : suffixes) {
      if (!rehashed.count(sfx)) recalc.recalculate.push_back(sfx);
    }
    if (!recalc.recalculate.empty()) {
      auto again = hashes::GetHashes(job.sync.path, recalc);
      if (!again.ok()) {
        failures.emplace(node.replication_ip, node.device);
        spdlog::error("Error rehashing {}: {}", JobName(job), again.status().message());
        continue;
      }
      rehashed.insert(recalc.recalculate.begin(), recalc.recalculate.end());
      local_hash = again->hashes;
      stats_.Update(dev, [&](ReplicationStats& s) { s.suffix_hash += again->hashed; });
    }
    suffixes = differing(local_hash, resp->hashes);
    if (suffixes.empty()) {
      stats_.Update(dev, [](ReplicationStats& s) { s.hashmatch++; });
      continue;
    }
    if (fan_out) {
      // Collected, then synced in one call that reads each file once for all peers.
      deferred.push_back({node, suffixes});
      if (node.region != job.sync.region) synced_remote_regions.insert(node.region);
      continue;
    }
    finish(node, suffixes, r_.backend_->Sync(node, job.sync, suffixes));
  }
  plan.suffix_count = local_hash.size();
  return plan;
}

void Replicator::Pass::SyncPlanned(const PartitionJob& job, UpdatePlan plan) {
  if (!plan.deferred.empty()) {
    auto results = r_.backend_->SyncPeers(job.sync, plan.deferred);
    for (size_t i = 0; i < plan.deferred.size(); ++i) {
      FinishSync(job, plan.deferred[i].node, plan.deferred[i].suffixes, std::move(results[i]),
                 &plan.failures);
    }
  }
  stats_.Update(job.sync.device, [&](ReplicationStats& s) {
    s.suffix_count += plan.suffix_count;
    s.AddFailures(plan.failures);
    for (const auto& t : plan.targets) s.success += plan.failures.count(t) ? 0 : 1;
  });
}

bool Replicator::Pass::FinishSync(const PartitionJob& job, const Device& node,
                                  const std::vector<std::string>& suffixes,
                                  sync::SyncResult result, NodeSet* failures) {
  const std::string& dev = job.sync.device;
  stats_.Update(dev, [](ReplicationStats& s) { s.rsync++; });
  result = Complete(job, node, suffixes, std::move(result), false);
  if (!result.success) failures->emplace(node.replication_ip, node.device);
  spdlog::info("Synced {} suffixes of {} to {} ({})", suffixes.size(), JobName(job),
               NodeName(node), result.success ? "ok" : "failed");
  stats_.Update(dev, [&](ReplicationStats& s) {
    s.suffix_sync += suffixes.size();
    s.files_sent += result.files_sent;
    s.bytes_sent += result.bytes_sent;
  });
  return result.success;
}

sync::SyncResult Replicator::Pass::Complete(const PartitionJob& job, const Device& node,
                                           const std::vector<std::string>& suffixes,
                                           sync::SyncResult result, bool strict) {
  sync::SyncBackend* used = r_.backend_.get();
  if (result.unsupported && r_.fallback_) {
    used = r_.fallback_.get();
    auto hold = r_.fallback_gate_.Acquire({NodeName(node)});
    result = used->Sync(node, job.sync, suffixes);
  }
  if (used->NeedsRehashRequest() && (result.success || !strict)) {
    // As in Swift, a peer that cannot be told to rehash may be down: for a handoff
    // that counts as a failed sync, and the handoff stays.
    ReplicatePeer peer{node.replication_ip, node.replication_port, node.device};
    auto rh = r_.client_.Rehash(peer, job.sync.partition, job.sync.policy_index, suffixes);
    if (!rh.ok() || rh->http_status / 100 != 2) {
      spdlog::error("Error asking {} to rehash {}: {}", NodeName(node), JobName(job),
                    rh.ok() ? "HTTP " + std::to_string(rh->http_status) : rh.status().message());
      result.success = false;
    }
  }
  return result;
}

void Replicator::Pass::UpdateDeleted(const PartitionJob& job) {
  const std::string& dev = job.sync.device;
  stats_.Update(dev, [](ReplicationStats& s) { s.attempted++; });
  NodeSet targets, failures;
  for (const auto& n : job.nodes) targets.emplace(n.replication_ip, n.device);
  bool deleted = false;
  {
    // Swift's partition_lock(name='replication'): an incoming SSYNC or REPCONN and this
    // revert never work on one partition at once.
    auto lock = hashes::ReplicationLock::Acquire(job.sync.path, "replication", 1, 0.2);
    if (!lock.ok()) {
      spdlog::info("Unable to lock handoff partition {} for replication on device {} policy {}",
                   job.sync.partition, dev, job.sync.policy_index);
      handoffs_remaining_++;
      return;
    }
    std::vector<std::string> suffixes;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(job.sync.path, ec)) {
      std::string name = e.path().filename();
      if (name.size() == 3 && e.is_directory(ec)) suffixes.push_back(name);
    }
    std::sort(suffixes.begin(), suffixes.end());
    size_t successes = 0, responses = 0;
    // ssync, native: the objects every successful peer confirmed (Swift's delete_objs).
    std::optional<std::set<std::string>> delete_objs;
    // A fallback (ssync) confirms objects too, so this is the backend's property.
    const bool confirms = r_.backend_->ConfirmsObjects();
    if (!suffixes.empty()) {
      std::vector<sync::PeerSync> peers;
      for (const auto& node : job.nodes) peers.push_back({node, suffixes});
      sync::SyncJob sjob = job.sync;
      // A fan-out backend removes each object as soon as its primaries hold it.
      if (r_.backend_->FansOut()) {
        sjob.delete_quorum = r_.cfg_.handoff_delete ? r_.cfg_.handoff_delete
                                                     : static_cast<int>(job.nodes.size());
      }
      auto results = r_.backend_->SyncPeers(sjob, peers);
      for (size_t i = 0; i < peers.size(); ++i) {
        const Device& node = peers[i].node;
        auto result = Complete(job, node, suffixes, std::move(results[i]), true);
        stats_.Update(dev, [&](ReplicationStats& s) {
          s.rsync++;
          s.files_sent += result.files_sent;
          s.bytes_sent += result.bytes_sent;
        });
        responses++;
        if (result.success) successes++;
        else failures.emplace(node.replication_ip, node.device);
        if (result.success && confirms) {
          std::set<std::string> confirmed;
          for (const auto& [hash, ts] : result.in_sync_objects) {
            if (!delete_objs || delete_objs->count(hash)) confirmed.insert(hash);
          }
          delete_objs = std::move(confirmed);
        }
        spdlog::info("Reverted {} suffixes of handoff {} to {} ({})", suffixes.size(),
                     JobName(job), NodeName(node), result.success ? "ok" : "failed");
      }
    }
    bool delete_handoff = r_.cfg_.handoff_delete
                              ? successes >= static_cast<size_t>(r_.cfg_.handoff_delete)
                              : responses == job.nodes.size() && successes == responses;
    if (delete_handoff || suffixes.empty()) {
      if (delete_handoff) stats_.Update(dev, [](ReplicationStats& s) { s.remove++; });
      if (delete_handoff && delete_objs && confirms) {
        // Only what the peers confirmed goes; the partition once nothing else is left.
        spdlog::info("Removing {} objects", delete_objs->size());
        auto cleanup = hashes::DeleteHandoffObjects(job.sync.path, *delete_objs);
        for (const auto& e : cleanup.errors) spdlog::error("{}", e);
        if (cleanup.partition_removed) spdlog::info("Removed partition: {}", job.sync.path);
        if (!cleanup.error_paths.empty()) failures = targets;
        deleted = cleanup.partition_removed;
      } else {
        spdlog::info("Removing partition: {}", job.sync.path);
        std::filesystem::remove_all(job.sync.path, ec);
        if (ec && ec != std::errc::no_such_file_or_directory &&
            ec != std::errc::directory_not_empty) {
          spdlog::error("Error removing handoff partition {}: {}", job.sync.path, ec.message());
        }
        deleted = true;
      }
    }
  }
  if (!deleted) handoffs_remaining_++;
  stats_.Update(dev, [&](ReplicationStats& s) {
    s.AddFailures(failures);
    for (const auto& t : targets) s.success += failures.count(t) ? 0 : 1;
  });
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
                       std::shared_ptr<sync::SyncBackend> backend)
    : cfg_(std::move(cfg)),
      swift_(std::move(swift)),
      backend_(std::move(backend)),
      client_(ReplicateTimeouts{cfg_.conn_timeout, cfg_.http_timeout}),
      replication_cycle_(static_cast<int>(std::random_device{}() % 10)) {
  // Swift object servers do not speak REPCONN; native syncs them with ssync.
  if (backend_ && backend_->FansOut()) {
    fallback_ = std::make_shared<sync::SsyncBackend>(SsyncOptionsFor(cfg_));
  }
}

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
  StatsBook stats;
  if (observer_) {
    stats.SetObserver([o = observer_](const std::string& dev, const ReplicationStats& before,
                                      const ReplicationStats& after) {
      o->StatsChanged(dev, before, after);
    });
  }
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
  size_t handoff_jobs = std::count_if(jobs.begin(), jobs.end(),
                                      [](const PartitionJob& j) { return j.sync.is_handoff; });
  spdlog::info("Starting replication pass: {} partitions ({} handoffs) with sync_method={}",
               jobs.size(), handoff_jobs, backend_->name());
  Pass pass(*this, std::move(jobs), stats);
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

}  // namespace replicant
