// Priority replication jobs (issue #19): "push partition P of policy N on local device
// D to these devices now, ahead of the shuffled pass". `replicant moveparts` and
// `replicant restore-device` send them as POST /priorityrep to `replicant serve` on the
// replication network; the server validates one strictly and queues it as a small JSON
// file, <devices>/<D>/replicant-priority/<N>-<P>.json (temp + fsync + rename, so a
// restart keeps it); the replicator runs the queued jobs at the start of each pass,
// deletes a file when its job succeeded and keeps it, with "retries" counted, otherwise.
//
// Wire body: {"policy": N, "partition": P, "from_device": "sdb1",
//             "to_devices": [ring device id | {"ip", "port", "device", ...}, ...]}.
// An object target names the device by its replication ip/port ("replication_ip" and
// "replication_port" win over "ip" and "port"); other keys are ignored. Unknown
// top-level keys, wrong types, out-of-range numbers, device names that could leave the
// devices directory, and bodies over kMaxPriorityBody are refused.
// Pure functions plus file I/O on the job directory; thread-safe (writers of one job
// file race only through rename: the last one wins, with the targets merged).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace replicant::ops {

inline constexpr size_t kMaxPriorityBody = 64 * 1024;
inline constexpr size_t kMaxPriorityTargets = 64;
inline constexpr const char* kPriorityDirName = "replicant-priority";

struct PriorityTarget {
  std::optional<int> id;  // a ring device id, or:
  std::string ip;         // replication ip
  int port = 0;           // replication port
  std::string device;
  bool operator==(const PriorityTarget& o) const {
    return id == o.id && ip == o.ip && port == o.port && device == o.device;
  }
  std::string ToString() const;
};

struct PriorityJob {
  int policy = 0;
  uint32_t partition = 0;
  std::string from_device;
  std::vector<PriorityTarget> to_devices;
  // Only in the queued file:
  int retries = 0;
  double created = 0;      // unix time it was first queued
  std::string last_error;  // why the last run failed
};

// A device name that stays inside the devices directory: non-empty UTF-8 without NUL,
// '/', at most 255 bytes, not "." or "..".
bool SafeDeviceName(std::string_view name);

// Parses a POST /priorityrep body (stored=false) or a queued job file (stored=true,
// which also accepts "retries", "created", "last_error"). InvalidArgument says what is
// wrong, for a 400.
Result<PriorityJob> ParsePriorityJob(std::string_view text, bool stored = false);
// The queued file's JSON (all fields).
std::string PriorityJobJson(const PriorityJob& job);
// The wire body (no queue-only fields).
std::string PriorityRequestJson(const PriorityJob& job);

std::string PriorityJobDir(const std::string& devices_dir, const std::string& device);
std::string PriorityJobPath(const std::string& devices_dir, const PriorityJob& job);

// Queues the job under its from_device; an existing job for the same partition keeps
// its own targets, creation time and retries, and gains the new targets.
Status QueuePriorityJob(const std::string& devices_dir, PriorityJob job, double now);
// Rewrites a queued job (e.g. with its retry count raised).
Status StorePriorityJob(const std::string& devices_dir, const PriorityJob& job);

struct QueuedPriorityJob {
  std::string path;
  Result<PriorityJob> job = Status::NotFound("unread");
};
// The job files under one device, in name order; a file that does not parse comes with
// its error (the caller logs it and leaves the file). NotFound-free: no directory, no jobs.
Result<std::vector<QueuedPriorityJob>> ListPriorityJobs(const std::string& devices_dir,
                                                        const std::string& device);

}  // namespace replicant::ops
