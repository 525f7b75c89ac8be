#include "replicator/progress.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

namespace replicant {
namespace {

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// {ip: {dev: n}} summed over devices.
nlohmann::json FailuresByPeer(const std::map<std::string, ReplicationStats>& per_device) {
  ReplicationStats sum;
  for (const auto& [dev, s] : per_device) sum.Add(s);
  return sum.ToRecon()["failure_nodes"];
}

}  // namespace

ProgressTracker::ProgressTracker(std::string path, std::string sync_method, double min_interval)
    : path_(std::move(path)),
      sync_method_(std::move(sync_method)),
      min_interval_(min_interval),
      flusher_([this] { FlushLoop(); }) {}

ProgressTracker::~ProgressTracker() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  flusher_.join();
}

void ProgressTracker::FlushLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!closing_) {
    cv_.wait_for(l, std::chrono::duration<double>(min_interval_), [&] { return closing_; });
    if (dirty_) WriteLocked();
  }
}

void ProgressTracker::PassStarted(const JobList& jobs) {
  std::lock_guard<std::mutex> l(mu_);
  devices_.clear();
  in_pass_ = true;
  state_ = "running";
  ++pass_number_;
  pass_start_ = WallNow();
  for (size_t i = 0; i < jobs.size(); ++i) {
    DeviceProgress& d = devices_[jobs.device(i)];
    d.all.total++;
    d.policies[jobs.policy_index(i)].total++;
    d.handoffs += jobs.is_handoff(i);
    d.last_update = pass_start_;
  }
  WriteLocked();
}

void ProgressTracker::JobFinished(const PartitionJob& job, double) {
  std::lock_guard<std::mutex> l(mu_);
  DeviceProgress& d = devices_[job.sync.device];
  d.all.done++;
  d.policies[job.sync.policy_index].done++;
  d.last_update = WallNow();
  dirty_ = true;  // the flusher writes it within min_interval
}

void ProgressTracker::StatsChanged(const std::string& device, const ReplicationStats&,
                                   const ReplicationStats& after) {
  std::lock_guard<std::mutex> l(mu_);
  devices_[device].stats = after;
  dirty_ = true;
}

void ProgressTracker::PassFinished(const PassSummary& s) {
  std::lock_guard<std::mutex> l(mu_);
  double end = WallNow();
  nlohmann::json per_device = nlohmann::json::object();
  for (const auto& [dev, st] : s.per_device) {
    per_device[dev] = st.ToProgress();
    devices_[dev].stats = st;
  }
  last_pass_ = {{"number", pass_number_},
                {"start", in_pass_ ? pass_start_ : end - s.seconds},
                {"end", end},
                {"seconds", s.seconds},
                {"partitions", s.jobs},
                {"aborted", s.aborted},
                {"handoffs_remaining", s.handoffs_remaining},
                {"stats", s.total.ToProgress()},
                {"per_device", per_device}};
  in_pass_ = false;
  state_ = "idle";
  WriteLocked();
}

void ProgressTracker::PriorityChanged(const PriorityProgress& p) {
  std::lock_guard<std::mutex> l(mu_);
  bool edge = priority_.is_null() || priority_.value("running", false) != p.running;
  priority_ = {{"running", p.running}, {"start", p.start},   {"jobs_total", p.total},
               {"jobs_done", p.done},  {"jobs_failed", p.failed}, {"bytes", p.bytes},
               {"done_all", p.done_all}, {"failed_all", p.failed_all},
               {"bytes_all", p.bytes_all}};
  // A run starting or ending shows at once; each job within min_interval.
  if (edge) WriteLocked();
  else dirty_ = true;
}

void ProgressTracker::SetState(const std::string& state) {
  std::lock_guard<std::mutex> l(mu_);
  state_ = state;
  WriteLocked();
}

nlohmann::json ProgressTracker::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return SnapshotLocked();
}

nlohmann::json ProgressTracker::SnapshotLocked() const {
  nlohmann::json devices = nlohmann::json::object();
  std::map<std::string, ReplicationStats> stats;
  int64_t total = 0, done = 0;
  for (const auto& [name, d] : devices_) {
    nlohmann::json policies = nlohmann::json::object();
    for (const auto& [idx, c] : d.policies) {
      policies[std::to_string(idx)] = {{"partitions_total", c.total}, {"partitions_done", c.done}};
    }
    devices[name] = {{"partitions_total", d.all.total},
                     {"partitions_done", d.all.done},
                     {"handoffs_total", d.handoffs},
                     {"pass_start", pass_start_},
                     {"last_update", d.last_update},
                     {"policies", policies},
                     {"stats", d.stats.ToProgress()}};
    stats[name] = d.stats;
    total += d.all.total;
    done += d.all.done;
  }
  nlohmann::json pass = nullptr;
  if (in_pass_) {
    pass = {{"number", pass_number_}, {"start", pass_start_}, {"partitions_total", total},
            {"partitions_done", done}};
  }
  return {{"version", 1},           {"pid", static_cast<int64_t>(getpid())},
          {"updated", WallNow()},   {"state", state_},
          {"sync_method", sync_method_}, {"pass", pass},
          {"devices", devices},     {"failures_by_peer", FailuresByPeer(stats)},
          {"last_pass", last_pass_}, {"priority", priority_}};
}

void ProgressTracker::WriteLocked() {
  dirty_ = false;
  Status st = WriteFileAtomically(path_, SnapshotLocked().dump() + "\n");
  // One warning, not one per job: a read-only cache dir must not flood the log.
  if (!st.ok() && !warned_) spdlog::warn("Cannot write the progress file: {}", st.message());
  warned_ = !st.ok();
}

}  // namespace replicant
