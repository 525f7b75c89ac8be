// Update jobs (Swift's ObjectReplicator.update): a primary partition compared with its
// peers by REPLICATE, the differing suffixes synced.
//
// Swift walks the nodes one by one, syncing each before it asks the next. Here the
// walk compares first and syncs in rounds, one SyncPeers() call per round, which
// gives every backend one entry point and lets a fan-out backend read the partition
// once for all its peers. The rounds keep Swift's decisions: a peer that is full
// (507) adds one more node to the walk; a remote region gets one copy, so its later
// primaries wait for the round that syncs the first and are skipped when that
// succeeded, taking its place when it failed.
#include <spdlog/spdlog.h>

#include "hashes/partition_hashes.h"
#include "replicator/replicator_pass.h"

namespace replicant {
namespace {

// Both maps are ordered by suffix: one walk over the two, no lookups (a big partition
// has ~1,000 suffixes, compared with three peers on every pass).
std::vector<std::string> Differing(const hashes::SuffixHashes& mine,
                                   const std::map<std::string, std::string>& theirs) {
  std::vector<std::string> out;
  auto t = theirs.begin();
  for (const auto& [suffix, h] : mine) {
    int order = 1;
    while (t != theirs.end() && (order = t->first.compare(suffix)) < 0) ++t;
    if (t == theirs.end() || order != 0 || t->second != h) out.push_back(suffix);
  }
  return out;
}

}  // namespace

Replicator::Pass::UpdatePlan Replicator::Pass::ComparePeers(const PartitionJob& job,
                                                            Survey* survey) {
  stats_.Update(job.sync.device, [](ReplicationStats& s) { s.attempted++; });
  UpdatePlan plan;
  Survey own;
  if (!survey) {  // replicate_window 1, or the window's survey went stale
    own = std::move(SurveyJobs({&job}, r_.client_, SurveyOptions(), r_.replication_cycle_)[0]);
    survey = &own;
  }
  auto& local = survey->local;
  if (!local.ok()) {
    spdlog::error("Error syncing partition {}: {}", JobName(job), local.status().ToString());
    for (const auto& n : job.nodes) plan.failures.emplace(n.replication_ip, n.device);
    return plan;  // no targets: the failures are all SyncRounds books
  }
  plan.local_hash = std::move(local->hashes);  // the survey is this job's alone
  stats_.Update(job.sync.device, [&](ReplicationStats& s) { s.suffix_hash += local->hashed; });
  // The primaries were asked at once; handoffs that stand in for a full peer are asked
  // one by one.
  for (size_t i = 0; i < survey->nodes.size(); ++i) {
    plan.primaries.push_back({survey->nodes[i], std::move(survey->answers[i])});
  }
  plan.attempts_left = survey->nodes.size();
  WalkNodes(job, &plan);
  return plan;
}

void Replicator::Pass::WalkNodes(const PartitionJob& job, UpdatePlan* plan) {
  while (plan->attempts_left > 0) {
    UpdatePlan::Candidate c;
    if (!plan->primaries.empty()) {
      c = std::move(plan->primaries.front());
      plan->primaries.pop_front();
    } else {
      // Made on first use: most jobs never need a handoff.
      if (!plan->handoffs) {
        plan->handoffs = std::make_unique<HandoffIterator>(*job.ring, job.partition);
      }
      const Device* h = plan->handoffs->Next();
      // Skip ourselves: a handoff list may contain the local device.
      while (h && h->id == job.local_dev_id) h = plan->handoffs->Next();
      if (!h) {
        spdlog::error("Ran out of handoffs while replicating partition {} of policy {}",
                      job.sync.partition, job.sync.policy_index);
        return;
      }
      c.node = *h;
    }
    plan->targets.emplace(c.node.replication_ip, c.node.device);
    plan->attempts_left--;
    Consider(job, plan, std::move(c));
  }
}

void Replicator::Pass::Consider(const PartitionJob& job, UpdatePlan* plan,
                                UpdatePlan::Candidate c) {
  const int region = c.node.region;
  const bool remote = region != job.sync.region;
  if (plan->synced_regions.count(region)) return;
  if (remote && plan->syncing_regions.count(region)) {
    plan->waiting.push_back(std::move(c));
    return;
  }
  Device node = c.node;
  auto suffixes = Compare(job, plan, std::move(c));
  if (suffixes.empty()) return;
  if (remote) plan->syncing_regions.insert(region);
  plan->round.push_back({std::move(node), std::move(suffixes), std::nullopt});
}

std::vector<std::string> Replicator::Pass::Compare(const PartitionJob& job, UpdatePlan* plan,
                                                   UpdatePlan::Candidate c) {
  const Device& node = c.node;
  const std::string& dev = job.sync.device;
  ReplicatePeer peer{node.replication_ip, node.replication_port, node.device};
  Where(job, NodeName(node));
  auto resp = c.answer ? std::move(*c.answer)
                       : r_.client_.GetHashes(peer, job.sync.partition, job.sync.policy_index);
  if (!resp.ok() || resp->http_status != 200) {
    plan->failures.emplace(node.replication_ip, node.device);
    if (!resp.ok()) {
      spdlog::error("Error syncing {} with node {}: {}", JobName(job), NodeName(node),
                    resp.status().message());
    } else if (resp->http_status == 507) {
      spdlog::error("{}/{} responded as unmounted ({})", node.replication_ip, node.device,
                    JobName(job));
      if (!job.priority) plan->attempts_left++;
    } else {
      spdlog::error("Invalid response {} from {} ({})", resp->http_status, node.replication_ip,
                    JobName(job));
    }
    return {};
  }
  auto suffixes = Differing(plan->local_hash, resp->hashes);
  // Rehash what differs before syncing it, as Swift does; a suffix rehashed for an
  // earlier peer of this job is not rehashed again.
  hashes::GetHashesOptions recalc = SurveyOptions();
  for (const auto& sfx : suffixes) {
    if (!plan->rehashed.count(sfx)) recalc.recalculate.push_back(sfx);
  }
  if (!recalc.recalculate.empty()) {
    auto again = hashes::GetHashes(job.sync.path, recalc);
    if (!again.ok()) {
      plan->failures.emplace(node.replication_ip, node.device);
      spdlog::error("Error rehashing {}: {}", JobName(job), again.status().message());
      return {};
    }
    plan->rehashed.insert(recalc.recalculate.begin(), recalc.recalculate.end());
    plan->local_hash = again->hashes;
    stats_.Update(dev, [&](ReplicationStats& s) { s.suffix_hash += again->hashed; });
    suffixes = Differing(plan->local_hash, resp->hashes);
  }
  if (suffixes.empty()) stats_.Update(dev, [](ReplicationStats& s) { s.hashmatch++; });
  return suffixes;
}

void Replicator::Pass::SyncRounds(const PartitionJob& job, UpdatePlan plan) {
  while (!plan.round.empty()) {
    std::vector<sync::PeerSync> round = std::move(plan.round);
    plan.round.clear();
    std::vector<Device> nodes;
    for (const auto& p : round) nodes.push_back(p.node);
    Where(job, PeerNames(nodes));
    auto results = r_.backends_.primary->SyncPeers(job.sync, round);
    for (size_t i = 0; i < round.size(); ++i) {
      const Device& node = round[i].node;
      Status st = FinishSync(job, round[i], std::move(results[i]), &plan.failures);
      if (st.IsNoSpace()) {
        // As for a 507 to REPLICATE: one more node gets the data this pass.
        spdlog::error("{}/{} is full ({})", node.replication_ip, node.device, JobName(job));
        if (!job.priority) plan.attempts_left++;
      }
      if (node.region != job.sync.region) {
        plan.syncing_regions.erase(node.region);
        if (st.ok()) plan.synced_regions.insert(node.region);
      }
    }
    // Those put aside behind a region's sync are skipped if it succeeded; the next
    // one of the region is compared (and synced next round) if it failed.
    auto waiting = std::move(plan.waiting);
    plan.waiting.clear();
    for (auto& c : waiting) Consider(job, &plan, std::move(c));
    WalkNodes(job, &plan);
  }
  stats_.Update(job.sync.device, [&](ReplicationStats& s) {
    s.suffix_count += plan.local_hash.size();
    s.AddFailures(plan.failures);
    for (const auto& t : plan.targets) s.success += plan.failures.count(t) ? 0 : 1;
  });
  if (job.priority) {
    // Done only when every named device answered and took what differed.
    job.priority->failed = !plan.failures.empty() || plan.targets.empty();
    job.priority->ran = true;
  }
}

Status Replicator::Pass::FinishSync(const PartitionJob& job, const sync::PeerSync& peer,
                                    sync::SyncResult result, NodeSet* failures) {
  const std::string& dev = job.sync.device;
  const Device& node = peer.node;
  stats_.Update(dev, [](ReplicationStats& s) { s.rsync++; });
  result = FallBackAndRehash(job, peer, std::move(result), false);
  if (!result.ok()) failures->emplace(node.replication_ip, node.device);
  spdlog::info("Synced {} suffixes of {} to {} ({})", peer.suffixes.size(), JobName(job),
               NodeName(node), result.ok() ? "ok" : "failed: " + result.status.message());
  if (job.priority) job.priority->bytes += result.bytes_sent;
  stats_.Update(dev, [&](ReplicationStats& s) {
    s.suffix_sync += peer.suffixes.size();
    s.files_sent += result.files_sent;
    s.bytes_sent += result.bytes_sent;
  });
  return result.status;
}

sync::SyncResult Replicator::Pass::FallBackAndRehash(const PartitionJob& job,
                                                     const sync::PeerSync& peer,
                                                     sync::SyncResult result, bool strict) {
  const Device& node = peer.node;
  sync::SyncBackend* used = r_.backends_.primary.get();
  if (result.unsupported && r_.backends_.fallback) {
    used = r_.backends_.fallback.get();
    auto hold = r_.fallback_gate_.Acquire({NodeName(node)});
    result = std::move(used->SyncPeers(job.sync, {peer}).front());
  }
  if (used->NeedsRehashRequest() && (result.ok() || !strict)) {
    // As in Swift, a peer that cannot be told to rehash may be down: for a handoff
    // that counts as a failed sync, and the handoff stays.
    ReplicatePeer rp{node.replication_ip, node.replication_port, node.device};
    auto rh = r_.client_.Rehash(rp, job.sync.partition, job.sync.policy_index, peer.suffixes);
    auto answered = [](const Result<ReplicateResponse>& r) {
      return r.ok() && r->http_status / 100 == 2;
    };
    if (answered(rh) && result.peer_cleanup_needed) {
      // A suffix REPLICATE only invalidates (Swift 2.30 skips the rehash); a full one
      // rehashes them, and the rehash's cleanup removes what a newer file obsoletes.
      rh = r_.client_.GetHashes(rp, job.sync.partition, job.sync.policy_index);
    }
    if (!answered(rh)) {
      std::string why = rh.ok() ? "HTTP " + std::to_string(rh->http_status) : rh.status().message();
      spdlog::error("Error asking {} to rehash {}: {}", NodeName(node), JobName(job), why);
      if (result.ok()) result.status = Status::IOError("rehash request: " + why);
    }
  }
  return result;
}

}  // namespace replicant
