#include "replicator/job_collector.h"

#include <dirent.h>  // DT_DIR, DT_REG
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "diskfile/layout.h"
#include "replicator/local_devices.h"
#include "diskfile/drive.h"
#include "diskfile/fs_util.h"

namespace replicant {
namespace {

using diskfile::fs::DirEntry;

// Swift's utils.listdir: a missing dir lists as empty; any other error is logged and
// lists as empty too (no job is made from what cannot be read).
std::vector<DirEntry> ListDir(const std::string& path) {
  std::vector<DirEntry> entries;
  if (int err = diskfile::fs::ListDirEntries(path, &entries); err != 0) {
    if (err != ENOENT) spdlog::error("ERROR listing {}: {}", path, std::strerror(err));
    entries.clear();
  }
  return entries;
}

// Swift's replicate(): a file where a partition dir should be is removed (and is no
// job). Checked here, from the listing's d_type, rather than by a stat per job: a
// directory listed as one is not stat'ed again (a file appearing in its place later
// fails that job's hashing and is removed next pass).
bool RemovedFilePartition(const std::string& path, unsigned char type) {
  if (type == DT_DIR) return false;
  std::error_code ec;
  if (type != DT_REG && !std::filesystem::is_regular_file(path, ec)) return false;
  spdlog::warn("Removing partition directory which was a file: {}", path);
  std::filesystem::remove(path, ec);
  return true;
}

// Swift's unlink_older_than(tmp, now - reclaim_age).
void UnlinkOlderThan(const std::string& dir, time_t cutoff) {
  for (const auto& [name, type] : ListDir(dir)) {
    std::string p = dir + "/" + name;
    struct stat st;
    if (lstat(p.c_str(), &st) == 0 && st.st_mtime < cutoff) {
      if (unlink(p.c_str()) == 0) spdlog::info("Removed stale temp file {}", p);
    }
  }
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return isdigit(c); });
}

// Python's int() of an all-digits name, saturated: any client can create a partition
// dir, so a name too big for any integer type must not throw.
uint64_t PartitionNumber(const std::string& digits) {
  uint64_t v = 0;
  for (unsigned char c : digits) {
    if (v > (UINT64_MAX - 9) / 10) return UINT64_MAX;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::set<std::pair<std::string, std::string>> AllDevs(const Ring& ring) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& d : ring.devices()) {
    if (d) out.emplace(d->replication_ip, d->device);
  }
  return out;
}

}  // namespace

// One local device's jobs for one policy (Swift's build_replication_jobs for a
// device): every partition dir under objects[-N] is a job; the rest is skipped with a
// log line, and counted as Swift counts it.
void CollectDeviceJobs(const PolicyRing& pr, const Device& local, const CollectOptions& opts,
                       StatsBook& stats, JobList* jobs) {
  const StoragePolicy& policy = pr.policy;
  // Every local device gets its per-disk recon entry, with or without jobs (Swift's
  // stats_for_dev); one that leaves the ring loses it (ReconUpdate).
  stats.Update(local.device, [](ReplicationStats&) {});
  auto dev_path = diskfile::CheckDrive(opts.devices_dir, local.device, opts.mount_check);
  if (!dev_path.ok()) {
    stats.Update(local.device, [&](ReplicationStats& s) { s.AddFailures(AllDevs(*pr.ring)); });
    spdlog::warn("{} (device {}, policy {}): skipped", dev_path.status().message(),
                 local.device, policy.index);
    return;
  }
  std::string obj_path = diskfile::DataDirOn(*dev_path, policy.index);
  // Swift's get_tmp_dir(policy): where this policy's writers leave temp files.
  std::string tmp_path = diskfile::TmpDirOn(*dev_path, policy.index);
  UnlinkOlderThan(tmp_path, time(nullptr) - opts.reclaim_age);
  std::error_code ec;
  if (!std::filesystem::exists(obj_path, ec)) {
    std::filesystem::create_directories(obj_path, ec);
    if (ec) spdlog::error("ERROR creating {}: {}", obj_path, ec.message());
    return;
  }
  const uint32_t source = jobs->AddSource({pr.ring, policy.index, local, *dev_path});
  const std::vector<DirEntry> entries = ListDir(obj_path);
  jobs->Reserve(entries.size());
  for (const auto& [name, type] : entries) {
    const bool numeric = AllDigits(name);
    const uint64_t part = numeric ? PartitionNumber(name) : UINT64_MAX;
    if (opts.override_partitions && numeric &&
        (part > static_cast<uint64_t>(INT32_MAX) ||
         !opts.override_partitions->count(static_cast<int>(part)))) {
      continue;
    }
    if (name.rfind("auditor_status_", 0) == 0 && name.size() > 5 &&
        name.compare(name.size() - 5, 5, ".json") == 0) {
      continue;
    }
    if (!numeric) {
      // Swift's int(partition) fails: the job fails and counts a failure against
      // every device of the ring.
      spdlog::warn("Invalid partition dir {}/{} (device {}, policy {})", obj_path, name,
                   local.device, policy.index);
      stats.Update(local.device, [&](ReplicationStats& s) { s.AddFailures(AllDevs(*pr.ring)); });
      continue;
    }
    if (part >= pr.ring->partition_count()) {
      // Swift would make it a handoff job with no primaries and delete it. It may
      // be data from a ring with a bigger part power: keep it, count nothing.
      spdlog::warn("Partition dir {}/{} is not in the ring of policy {} ({} partitions); "
                   "skipped (device {})", obj_path, name, policy.index,
                   pr.ring->partition_count(), local.device);
      continue;
    }
    if (RemovedFilePartition(obj_path + "/" + name, type)) continue;
    JobTicket t;
    t.partition = static_cast<uint32_t>(part);
    t.source = source;
    // A handoff: the local device is not one of the partition's primaries.
    auto primaries = pr.ring->GetPartNodes(t.partition);
    t.is_handoff = std::none_of(primaries.begin(), primaries.end(),
                                [&](const Device* d) { return d->id == local.id; });
    jobs->Add(t, name);
  }
}

JobList CollectJobs(const std::vector<PolicyRing>& rings, const CollectOptions& opts,
                    StatsBook& stats, std::mt19937_64& rng) {
  JobList jobs;
  std::vector<std::string> ips = WhatAreMyIps(opts.ring_ip);
  for (const auto& pr : rings) {
    const StoragePolicy& policy = pr.policy;
    if (policy.type != "replication") continue;
    if (opts.override_policies && !opts.override_policies->count(policy.index)) continue;
    if (pr.ring->next_part_power()) {
      spdlog::warn("next_part_power set in policy '{}'. Skipping", policy.name);
      continue;
    }
    bool found_local = false;
    for (const auto& dev_opt : pr.ring->devices()) {
      if (!dev_opt || !IsLocalDevice(ips, opts.port, *dev_opt)) continue;
      const Device& local = *dev_opt;
      if (opts.override_devices && !opts.override_devices->count(local.device)) continue;
      found_local = true;
      CollectDeviceJobs(pr, local, opts, stats, &jobs);
    }
    if (!found_local) {
      std::string all;
      for (const auto& ip : ips) all += (all.empty() ? "" : ", ") + ip;
      spdlog::error(
          "Can't find itself in policy with index {} with ips {} and with port {} in ring "
          "file, not replicating",
          policy.index, all, opts.port ? std::to_string(*opts.port) : "None");
    }
  }
  jobs.Shuffle(rng, opts.handoffs_first);
  return jobs;
}

}  // namespace replicant
