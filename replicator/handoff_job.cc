// Handoff jobs (Swift's ObjectReplicator.update_deleted): every suffix pushed to every
// primary; the partition, or what the peers confirmed, removed only after that.
#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "hashes/handoff_cleanup.h"
#include "hashes/replication_lock.h"
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
    auto lock = hashes::ReplicationLock::Acquire(job.sync.path, "replication", 1, 0.2);
    if (!lock.ok()) {
      spdlog::info("Unable to lock handoff partition {} for replication on device {} policy {}",
                   job.sync.partition, dev, job.sync.policy_index);
      if (observer_) observer_->PartitionLockFailed(job);
      handoffs_remaining_++;
      return;
    }
    // What may be deleted afterwards is listed before anything is sent: a file that
    // arrives during the sync is not in it and stays. A listing that fails keeps all.
    auto suffixes = hashes::ListHandoffSuffixes(job.sync.path);
    auto snapshot = suffixes.ok() ? hashes::ListHandoffObjects(job.sync.path, *suffixes)
                                  : Result<hashes::HandoffSnapshot>(suffixes.status());
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

bool Replicator::Pass::RevertHandoff(const PartitionJob& job,
                                     const std::vector<std::string>& suffixes,
                                     const hashes::HandoffSnapshot& snapshot, NodeSet* failures) {
  const std::string& dev = job.sync.device;
  size_t successes = 0, responses = 0;
  // ssync, native: the objects every successful peer confirmed (Swift's delete_objs).
  std::optional<hashes::ConfirmedObjects> delete_objs;
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
    Where(job, PeerNames(job.nodes));
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
      else failures->emplace(node.replication_ip, node.device);
      if (result.success && confirms) {
        // An object stays confirmed up to the oldest timestamp every peer holds.
        hashes::ConfirmedObjects both;
        for (const auto& [hash, ts] : result.in_sync_objects) {
          if (!delete_objs) both[hash] = ts;
          else if (auto it = delete_objs->find(hash); it != delete_objs->end()) {
            both[hash] = std::min(ts, it->second);
          }
        }
        delete_objs = std::move(both);
      }
      spdlog::info("Reverted {} suffixes of handoff {} to {} ({})", suffixes.size(),
                   JobName(job), NodeName(node), result.success ? "ok" : "failed");
    }
  }
  bool delete_handoff = r_.cfg_.handoff_delete
                            ? successes >= static_cast<size_t>(r_.cfg_.handoff_delete)
                            : responses == job.nodes.size() && successes == responses;
  if (!delete_handoff && !suffixes.empty()) return false;
  if (delete_handoff) stats_.Update(dev, [](ReplicationStats& s) { s.remove++; });
  // A confirming backend deletes what its peers confirmed, nothing when none did.
  if (confirms && !delete_objs) delete_objs.emplace();
  spdlog::info("Removing {} objects of handoff {}",
               confirms ? delete_objs->size() : snapshot.size(), JobName(job));
  auto cleanup = hashes::RemoveHandoffFiles(job.sync.path, snapshot,
                                            confirms ? &*delete_objs : nullptr);
  for (const auto& e : cleanup.errors) spdlog::error("{}", e);
  if (cleanup.partition_removed) spdlog::info("Removed partition: {}", job.sync.path);
  // Cleanup that failed means the next pass must sync and clean again.
  if (!cleanup.error_paths.empty()) {
    for (const auto& n : job.nodes) failures->emplace(n.replication_ip, n.device);
  }
  return cleanup.partition_removed;
}

}  // namespace replicant
