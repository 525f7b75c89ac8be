// The jobs of one replication pass. A PartitionJob is one partition of one local
// device and policy, with what running it needs: its peers (the other primaries), its
// paths and ring. Built, it takes ~700 bytes; a node at part power 18 has ~200K
// partition dirs, so a JobList keeps a 12-byte JobTicket per job and builds its
// PartitionJob only when a worker takes it (Get). Priority passes (a few jobs with
// nodes of their own) keep built jobs.
// Thread-safety: const after construction; any thread may call the accessors and Get.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "formats/swift_conf.h"
#include "ring/ring.h"
#include "sync_backends/sync_backend.h"

namespace replicant {

struct PolicyRing {
  StoragePolicy policy;
  std::string ring_path;
  std::shared_ptr<const Ring> ring;
};

// What a priority job (priority_jobs.h) did, filled in by the job as it runs (on one
// worker thread; read after the pass).
struct PriorityOutcome {
  std::atomic<bool> ran{false};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> bytes{0};
};

struct PartitionJob {
  sync::SyncJob sync;           // device, partition, policy, paths, region, is_handoff
  uint32_t partition = 0;
  int local_dev_id = -1;
  std::vector<Device> nodes;    // primaries other than the local device
  std::shared_ptr<const Ring> ring;
  // Set on priority jobs only: an update job whose `nodes` are the devices it was asked
  // to push to; a 507 from one does not send it on to handoffs.
  std::shared_ptr<PriorityOutcome> priority;
};

// One local device under one policy: what its jobs share.
struct JobSource {
  std::shared_ptr<const Ring> ring;
  int policy_index = 0;
  Device local;
  std::string device_path;  // <devices>/<device>
};

// A collected job: its partition, its JobSource, and whether it is a handoff.
struct JobTicket {
  static constexpr uint32_t kCanonicalName = UINT32_MAX;
  uint32_t partition = 0;
  uint32_t source = 0;  // index into the JobList's sources
  // The partition dir's name when it is not the number's decimal form ("007" is
  // partition 7, as Swift's int() reads it): an index into the JobList's names.
  uint32_t name = kCanonicalName;
  bool is_handoff = false;
};

class JobList {
 public:
  JobList() = default;
  // Built jobs, run in this order.
  explicit JobList(std::vector<PartitionJob> built);
  JobList(std::vector<JobSource> sources, std::vector<JobTicket> tickets)
      : sources_(std::move(sources)), tickets_(std::move(tickets)) {}

  size_t size() const { return built_.empty() ? tickets_.size() : built_.size(); }
  bool empty() const { return size() == 0; }
  bool is_handoff(size_t i) const;
  const std::string& device(size_t i) const;
  int policy_index(size_t i) const;
  // True for a list of priority jobs.
  bool priority() const { return !built_.empty() && built_[0]->priority != nullptr; }
  // Job i, built (a ticket's) or shared (a built list's).
  std::shared_ptr<const PartitionJob> Get(size_t i) const;

  // Collecting: adds a source (its index) and tickets; shuffles the tickets, then moves
  // the handoffs first when asked, keeping their shuffled order.
  uint32_t AddSource(JobSource s);
  // `dir_name`: the partition dir's name.
  void Add(JobTicket t, const std::string& dir_name);
  void Reserve(size_t more) { tickets_.reserve(tickets_.size() + more); }
  void Shuffle(std::mt19937_64& rng, bool handoffs_first);

 private:
  std::vector<std::shared_ptr<const PartitionJob>> built_;
  std::vector<JobSource> sources_;
  std::vector<JobTicket> tickets_;
  std::vector<std::string> names_;  // non-canonical partition dir names
};

}  // namespace replicant
