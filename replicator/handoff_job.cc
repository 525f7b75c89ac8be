// Handoff jobs (Swift's ObjectReplicator.update_deleted): every suffix pushed to every
// primary (with ssync or native, a remote region's later primaries only checked); the
// partition, or what the peers confirmed, removed only after that.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include "diskfile/handoff_cleanup.h"
#include "diskfile/replication_lock.h"
#include "replicator/replicator_pass.h"

namespace replicant {

void Replicator::Pass::UpdateDeleted(const PartitionJob& job) {
  const std::string& dev = job.sync.device;
  stats_.Update(dev, [](ReplicationStats& s) { s.attempted++; });
  NodeSet targets, failures;
  for (const auto& n : job.nodes) targets.emplace(n.replication_ip, n.device);
  bool deleted = false;
  {
    // Swift's partition_lock(name='replication'): an incoming SSYNC or REPCONN and this
    // revert never work on one partition at once.
    auto lock = diskfile::ReplicationLock::Acquire(job.sync.path, "replication", 1, 0.2);
    if (!lock.ok()) {
      spdlog::info("Unable to lock handoff partition {} for replication on device {} policy {}",
                   job.sync.partition, dev, job.sync.policy_index);
      if (observer_) observer_->PartitionLockFailed(job);
      handoffs_remaining_++;
      return;
    }
    // What may be deleted afterwards is listed before anything is sent: a file that
    // arrives during the sync is not in it and stays. A listing that fails keeps all.
    auto suffixes = diskfile::ListHandoffSuffixes(job.sync.path);
    auto snapshot = suffixes.ok() ? diskfile::ListHandoffObjects(job.sync.path, *suffixes)
                                  : Result<diskfile::HandoffSnapshot>(suffixes.status());
    if (!snapshot.ok()) {
      spdlog::error("Error syncing handoff partition {}: {}; keeping it", JobName(job),
                    snapshot.status().message());
      failures = targets;
    } else {
      deleted = RevertHandoff(job, *suffixes, *snapshot, &failures);
    }
  }
  if (!deleted) handoffs_remaining_++;
  stats_.Update(dev, [&](ReplicationStats& s) {
    s.AddFailures(failures);
    for (const auto& t : targets) s.success += failures.count(t) ? 0 : 1;
  });
}

namespace {

// Swift's synced_remote_regions: remote region -> the objects its synced primary (then
// each checked one) holds in sync.
using RegionObjects = std::map<int, std::set<std::string>>;

// The next round of a revert, taken from `pending` in ring order, as Swift's loop over
// job['nodes'] decides: a primary of a remote region that one primary already holds
// is only checked (confirming backends); of a remote region none holds yet, the first
// is synced this round and the others wait for its answer. Local-region primaries,
// and every primary with a backend that does not confirm objects (rsync; Swift
// ignores remote_check_objs there), get a full sync.
std::vector<sync::PeerSync> NextRevertRound(std::vector<const Device*>* pending, int local_region,
                                            const std::vector<std::string>& suffixes,
                                            const RegionObjects& synced, bool confirms) {
  std::vector<sync::PeerSync> round;
  std::vector<const Device*> later;
  std::set<int> syncing;
  for (const Device* n : *pending) {
    if (confirms && n->region != local_region) {
      if (auto it = synced.find(n->region); it != synced.end()) {
        round.push_back({*n, suffixes, it->second});
        continue;
      }
      if (!syncing.insert(n->region).second) {
        later.push_back(n);
        continue;
      }
    }
    round.push_back({*n, suffixes, std::nullopt});
  }
  *pending = std::move(later);
  return round;
}

// An object stays confirmed up to the oldest timestamp every peer holds.
void Intersect(const sync::SyncResult& result, std::optional<diskfile::ConfirmedObjects>* objs) {
  diskfile::ConfirmedObjects both;
  for (const auto& [hash, ts] : result.in_sync_objects) {
    if (!*objs) both[hash] = ts;
    else if (auto it = (*objs)->find(hash); it != (*objs)->end()) both[hash] = std::min(ts, it->second);
  }
  *objs = std::move(both);
}

std::string Outcome(const sync::SyncResult& r) {
  return r.ok() ? "ok" : "failed: " + r.status.message();
}

}  // namespace

void Replicator::Pass::DropHeldObject(const PartitionJob& job, const sync::HeldObject& obj,
                                      int quorum) {
  if (obj.holders < quorum) return;
  diskfile::HandoffCleanup cleanup;
  diskfile::RemoveHeldObject(job.sync.path, obj.suffix, obj.hash, obj.files, &cleanup);
  for (const auto& e : cleanup.errors) spdlog::error("{}", e);
}

bool Replicator::Pass::RevertHandoff(const PartitionJob& job,
                                     const std::vector<std::string>& suffixes,
                                     const diskfile::HandoffSnapshot& snapshot, NodeSet* failures) {
  const std::string& dev = job.sync.device;
  size_t successes = 0, responses = 0;
  // ssync, native: the objects every successful peer confirmed (Swift's delete_objs,
  // taken over every peer rather than only the remote regions' for safety).
  std::optional<diskfile::ConfirmedObjects> delete_objs;
  // A fallback (ssync) confirms objects too, so this is the backend's property.
  const bool confirms = r_.backends_.primary->ConfirmsObjects();
  std::vector<const Device*> pending;
  if (!suffixes.empty()) {
    for (const auto& node : job.nodes) pending.push_back(&node);
  }
  RegionObjects synced_remote_regions;
  for (bool first = true; !pending.empty(); first = false) {
    auto peers = NextRevertRound(&pending, job.sync.region, suffixes, synced_remote_regions,
                                 confirms);
    sync::SyncJob sjob = job.sync;
    // A backend that learns batch by batch what the primaries hold lets each object
    // go as soon as they all do; a later round (checks) never does: the replicator
    // deletes what every peer confirmed.
    if (first) {
      int quorum = r_.cfg_.handoff_delete ? r_.cfg_.handoff_delete
                                          : static_cast<int>(job.nodes.size());
      sjob.on_held = [this, &job, quorum](const sync::HeldObject& obj) {
        DropHeldObject(job, obj, quorum);
      };
    }
    std::vector<Device> nodes;
    for (const auto& p : peers) nodes.push_back(p.node);
    Where(job, PeerNames(nodes));
    auto results = r_.backends_.primary->SyncPeers(sjob, peers);
    for (size_t i = 0; i < peers.size(); ++i) {
      const Device& node = peers[i].node;
      const std::set<std::string>* check = peers[i].check_objs ? &*peers[i].check_objs : nullptr;
      auto result = FallBackAndRehash(job, peers[i], std::move(results[i]), true);
      stats_.Update(dev, [&](ReplicationStats& s) {
        s.rsync++;
        s.files_sent += result.files_sent;
        s.bytes_sent += result.bytes_sent;
      });
      responses++;
      if (result.ok()) successes++;
      else failures->emplace(node.replication_ip, node.device);
      if (result.ok() && confirms) {
        Intersect(result, &delete_objs);
        if (node.region != job.sync.region) {
          auto& objs = synced_remote_regions[node.region];
          objs.clear();
          for (const auto& [hash, ts] : result.in_sync_objects) objs.insert(hash);
        }
      }
      if (check) {
        spdlog::info("Checked {} objects of handoff {} on {} ({}, {} in sync)", check->size(),
                     JobName(job), NodeName(node), Outcome(result),
                     result.in_sync_objects.size());
      } else {
        spdlog::info("Reverted {} suffixes of handoff {} to {} ({})", suffixes.size(),
                     JobName(job), NodeName(node), Outcome(result));
      }
    }
  }
  bool delete_handoff = r_.cfg_.handoff_delete
                            ? successes >= static_cast<size_t>(r_.cfg_.handoff_delete)
                            : responses == job.nodes.size() && successes == responses;
  if (!delete_handoff && !suffixes.empty()) return false;
  if (delete_handoff) stats_.Update(dev, [](ReplicationStats& s) { s.remove++; });
  // A confirming backend deletes what its peers confirmed, nothing when none did.
  if (confirms && !delete_objs) delete_objs.emplace();
  return RemoveReverted(job, snapshot, confirms ? &*delete_objs : nullptr, failures);
}

bool Replicator::Pass::RemoveReverted(const PartitionJob& job,
                                      const diskfile::HandoffSnapshot& snapshot,
                                      const diskfile::ConfirmedObjects* confirmed,
                                      NodeSet* failures) {
  spdlog::info("Removing {} objects of handoff {}", confirmed ? confirmed->size() : snapshot.size(),
               JobName(job));
  auto cleanup = diskfile::RemoveHandoffFiles(job.sync.path, snapshot, confirmed);
  for (const auto& e : cleanup.errors) spdlog::error("{}", e);
  if (cleanup.partition_removed) spdlog::info("Removed partition: {}", job.sync.path);
  // Cleanup that failed means the next pass must sync and clean again.
  if (!cleanup.error_paths.empty()) {
    for (const auto& n : job.nodes) failures->emplace(n.replication_ip, n.device);
  }
  return cleanup.partition_removed;
}

}  // namespace replicant
