// Handoff jobs (Swift's ObjectReplicator.update_deleted): every suffix pushed to every
// primary; the partition, or what the peers confirmed, removed only after that.
#include <algorithm>
#include <filesystem>
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

}  // namespace replicant
