// Update jobs (Swift's ObjectReplicator.update): a primary partition compared with its
// peers by REPLICATE, the differing suffixes synced.
#include <optional>

#include <spdlog/spdlog.h>

#include "hashes/partition_hashes.h"
#include "replicator/replicator_pass.h"

namespace replicant {

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
    Where(job, NodeName(node));
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
      if (!job.priority) attempts_left++;
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
      deferred.push_back({node, suffixes, std::nullopt});
      if (node.region != job.sync.region) synced_remote_regions.insert(node.region);
      continue;
    }
    Where(job, NodeName(node));
    sync::SyncResult result = r_.backend_->Sync(node, job.sync, suffixes);
    if (result.device_full) {
      // As for a 507 to REPLICATE: one more node gets the data this pass.
      spdlog::error("{}/{} is full ({})", node.replication_ip, node.device, JobName(job));
      if (!job.priority) attempts_left++;
    }
    finish(node, suffixes, std::move(result));
  }
  plan.suffix_count = local_hash.size();
  return plan;
}

void Replicator::Pass::SyncPlanned(const PartitionJob& job, UpdatePlan plan) {
  if (!plan.deferred.empty()) {
    std::vector<Device> peers;
    for (const auto& p : plan.deferred) peers.push_back(p.node);
    Where(job, PeerNames(peers));
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
  if (job.priority) {
    // Done only when every named device answered and took what differed.
    job.priority->failed = !plan.failures.empty() || plan.targets.empty();
    job.priority->ran = true;
  }
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
  if (job.priority) job.priority->bytes += result.bytes_sent;
  stats_.Update(dev, [&](ReplicationStats& s) {
    s.suffix_sync += suffixes.size();
    s.files_sent += result.files_sent;
    s.bytes_sent += result.bytes_sent;
  });
  return result.success;
}

sync::SyncResult Replicator::Pass::Complete(const PartitionJob& job, const Device& node,
                                           const std::vector<std::string>& suffixes,
                                           sync::SyncResult result, bool strict,
                                           const std::set<std::string>* check_objs) {
  sync::SyncBackend* used = r_.backend_.get();
  if (result.unsupported && r_.fallback_) {
    used = r_.fallback_.get();
    auto hold = r_.fallback_gate_.Acquire({NodeName(node)});
    result = check_objs ? used->Check(node, job.sync, suffixes, *check_objs)
                        : used->Sync(node, job.sync, suffixes);
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

}  // namespace replicant
