#include "replicator/worker_parent.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "formats/swift_conf.h"
#include "replicator/local_devices.h"
#include "replicator/progress.h"
#include "replicator/recon_update.h"
#include "ops/sd_notify.h"
#include "replicator/stats.h"
#include "ring/ring.h"

namespace replicant {

std::vector<std::vector<std::string>> DistributeEvenly(const std::vector<std::string>& items,
                                                       int n) {
  std::vector<std::vector<std::string>> out(std::max(1, n));
  for (size_t i = 0; i < items.size(); ++i) out[i % out.size()].push_back(items[i]);
  return out;
}

Result<std::vector<std::string>> LocalDeviceNames(const ReplicatorConfig& cfg) {
  auto swift = LoadSwiftConf(cfg.swift_dir);
  if (!swift.ok()) return swift.status();
  std::vector<std::string> ips = WhatAreMyIps(cfg.ring_ip);
  std::vector<std::string> out;
  for (const auto& policy : swift->policies) {
    if (policy.type != "replication") continue;
    auto ring = Ring::Load(cfg.swift_dir + "/" + policy.ring_name() + ".ring.gz");
    if (!ring.ok()) return ring.status().WithContext("policy " + std::to_string(policy.index));
    for (const auto& dev : (*ring)->devices()) {
      if (dev && IsLocalDevice(ips, cfg.bind_port, *dev)) out.push_back(dev->device);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

std::string CsvOf(const std::set<int>& v) { return fmt::format("{}", fmt::join(v, ",")); }

struct Worker {
  int index = 0;
  std::vector<std::string> devices;
  pid_t pid = -1;  // -1: not running
  int status = 0;  // wait status of its last exit
  Clock::time_point exited_at;
  bool killed = false;  // for a lockup; not counted again until it is restarted
};

class Parent {
 public:
  Parent(const ReplicatorConfig& cfg, const WorkerParentArgs& args) : cfg_(cfg), args_(args) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    exe_ = n > 0 ? std::string(buf, n) : "/proc/self/exe";
    sigemptyset(&set_);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set_, s);
    sigprocmask(SIG_BLOCK, &set_, &old_mask_);
  }
  ~Parent() { sigprocmask(SIG_SETMASK, &old_mask_, nullptr); }
  Parent(const Parent&) = delete;
  Parent& operator=(const Parent&) = delete;
  // Splits `local` (minus what -d leaves out) over the workers and starts them.
  void Start(const std::vector<std::string>& local);
  bool empty() const { return workers_.empty(); }
  int RunOnce();
  int RunForever();

 private:
  void Spawn(Worker& w);
  // Collects exited workers; true when one exited.
  bool Reap();
  void Signal(int signo);
  // SIGTERM to every worker's group; waits for them (SIGKILL after `grace` seconds).
  void StopAll(double grace);
  void Aggregate();
  // Kills workers whose pass made no progress for lockup_timeout (their progress file
  // unchanged while "running"): a system call hung for good is only ended that way.
  void KillLockedUp();
  void PublishLockups(const nlohmann::json& progress);

  const ReplicatorConfig& cfg_;
  const WorkerParentArgs& args_;
  std::string exe_;
  sigset_t set_, old_mask_;
  std::vector<std::string> all_local_;
  std::vector<Worker> workers_;
  SystemdNotifier notifier_;
};

void Parent::Start(const std::vector<std::string>& local) {
  all_local_ = local;
  std::vector<std::string> mine;
  for (const auto& d : local) {
    if (!args_.overrides.devices || args_.overrides.devices->count(d)) mine.push_back(d);
  }
  workers_.clear();
  int n = std::min<int>(cfg_.replicator_workers, static_cast<int>(mine.size()));
  if (n == 0) return;
  auto split = DistributeEvenly(mine, n);
  for (int i = 0; i < n; ++i) {
    workers_.push_back(Worker{i, split[i], -1, 0, Clock::now()});
    Spawn(workers_.back());
  }
}

void Parent::Spawn(Worker& w) {
  std::vector<std::string> argv = {"replicant", "replicate", args_.conf_path};
  if (args_.once) argv.push_back("--once");
  if (args_.verbose) argv.push_back("--verbose");
  argv.insert(argv.end(), {"--devices", fmt::format("{}", fmt::join(w.devices, ",")),
                           "--worker-index", std::to_string(w.index)});
  if (args_.overrides.partitions) argv.insert(argv.end(), {"--partitions", CsvOf(*args_.overrides.partitions)});
  if (args_.overrides.policies) argv.insert(argv.end(), {"--policies", CsvOf(*args_.overrides.policies)});
  // Swift: a pass with overrides publishes no recon; the worker's own -d does not count.
  if (args_.overrides.any()) argv.push_back("--worker-overrides");
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Its own process group, so that SIGTERM reaches its rsync children too; it dies
    // with the parent.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    // systemd hears from the parent only (NotifyAccess=main); it pings the watchdog.
    unsetenv("NOTIFY_SOCKET");
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(exe_.c_str(), cargv.data());
    _exit(127);
  }
  if (pid < 0) {
    spdlog::error("Cannot start replicator worker {}: {}", w.index, strerror(errno));
    w.exited_at = Clock::now();
    return;
  }
  setpgid(pid, pid);  // also here: no race with the first kill(-pid)
  w.pid = pid;
  w.killed = false;
  spdlog::info("Started replicator worker {} (pid {}) for devices {}", w.index, pid,
               fmt::join(w.devices, ","));
}

bool Parent::Reap() {
  bool any = false;
  for (auto& w : workers_) {
    if (w.pid <= 0) continue;
    int st = 0;
    if (waitpid(w.pid, &st, WNOHANG) != w.pid) continue;
    any = true;
    w.status = st;
    w.exited_at = Clock::now();
    spdlog::info("Replicator worker {} (pid {}, devices {}) exited: {}", w.index, w.pid,
                 fmt::join(w.devices, ","),
                 WIFEXITED(st) ? fmt::format("status {}", WEXITSTATUS(st))
                               : fmt::format("signal {}", WTERMSIG(st)));
    w.pid = -1;
  }
  return any;
}

void Parent::Signal(int signo) {
  for (auto& w : workers_) {
    if (w.pid > 0) kill(-w.pid, signo);
  }
}

void Parent::StopAll(double grace) {
  Signal(SIGTERM);
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(grace + 5));
  for (;;) {
    Reap();
    bool live = std::any_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.pid > 0; });
    if (!live) return;
    if (Clock::now() >= deadline) {
      spdlog::warn("Replicator workers still running {}s after SIGTERM; killing them", grace + 5);
      Signal(SIGKILL);
      deadline = Clock::time_point::max();
    }
    timespec ts{0, 100 * 1000 * 1000};
    sigtimedwait(&set_, nullptr, &ts);  // SIGCHLD wakes it; SIGTERM again changes nothing
  }
}

void Parent::Aggregate() {
  if (args_.overrides.any()) return;  // as Swift's post_multiprocess_run
  std::string path = cfg_.recon_cache_path + "/object.recon";
  nlohmann::json recon = LoadReconCache(path);
  nlohmann::json update = AggregateReconUpdate(recon, all_local_);
  bool changed = false;
  for (const auto& [k, v] : update.items()) changed |= !recon.contains(k) || recon[k] != v;
  if (!changed) return;
  if (auto st = DumpReconCache(update, path); !st.ok()) {
    spdlog::error("Exception dumping recon cache: {}", st.message());
  }
}

void Parent::PublishLockups(const nlohmann::json& progress) {
  // The killed worker's pass never ends: its devices' lockups are published here, those
  // it counted itself, else one for each of its devices with jobs left.
  const nlohmann::json devices = progress.value("devices", nlohmann::json::object());
  std::map<std::string, int64_t> counts;
  for (const auto& [dev, d] : devices.items()) {
    const nlohmann::json stats = d.value("stats", nlohmann::json::object());
    if (int64_t n = stats.value("lockups", int64_t{0}); n > 0) counts[dev] = n;
  }
  if (counts.empty()) {
    for (const auto& [dev, d] : devices.items()) {
      if (d.value("partitions_done", 0) < d.value("partitions_total", 0)) counts[dev] = 1;
    }
  }
  std::string path = cfg_.recon_cache_path + "/object.recon";
  const nlohmann::json recon = LoadReconCache(path);
  const nlohmann::json per_disk = recon.value("object_replication_per_disk",
                                              nlohmann::json::object());
  nlohmann::json update = nlohmann::json::object();
  for (const auto& [dev, n] : counts) {
    nlohmann::json entry = per_disk.is_object() && per_disk.contains(dev) && per_disk[dev].is_object()
                               ? per_disk[dev]
                               : nlohmann::json::object();
    entry["lockups"] = entry.value("lockups", int64_t{0}) + n;
    update[dev] = entry;
  }
  if (update.empty()) return;
  auto st = DumpReconCache({{"object_replication_per_disk", update}}, path);
  if (!st.ok()) spdlog::error("Exception dumping recon cache: {}", st.message());
}

void Parent::KillLockedUp() {
  if (cfg_.lockup_timeout <= 0) return;
  double now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto& w : workers_) {
    if (w.pid <= 0 || w.killed) continue;
    auto doc = ReadProgressFile(ProgressFilePath(cfg_.recon_cache_path, w.index));
    if (!doc.ok() || doc->value("state", std::string()) != "running" ||
        doc->value("pid", int64_t{0}) != w.pid) {
      continue;
    }
    double idle = now - doc->value("updated", now);
    if (idle < cfg_.lockup_timeout) continue;
    spdlog::error("Lockup: replicator worker {} (pid {}, devices {}) made no progress for "
                  "{:.1f}s (lockup_timeout {}s); killing it",
                  w.index, w.pid, fmt::join(w.devices, ","), idle, cfg_.lockup_timeout);
    PublishLockups(*doc);
    kill(-w.pid, SIGKILL);
    w.killed = true;
  }
}

int Parent::RunOnce() {
  for (;;) {
    timespec ts{1, 0};
    int signo = sigtimedwait(&set_, nullptr, &ts);
    if (signo == SIGTERM || signo == SIGINT) {
      spdlog::info("Signal {}: stopping the replicator workers", signo);
      StopAll(cfg_.stop_timeout);
      return 1;
    }
    KillLockedUp();
    Reap();
    if (std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.pid <= 0; })) break;
  }
  Aggregate();
  bool ok = std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) {
    return WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0;
  });
  return ok ? 0 : 1;
}

int Parent::RunForever() {
  notifier_.Ready(fmt::format("object replicator started (daemon mode, {} workers)",
                              workers_.size()));
  auto every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(std::max(1.0, cfg_.ring_check_interval)));
  auto next_check = Clock::now() + every;
  for (;;) {
    timespec ts{1, 0};
    int signo = sigtimedwait(&set_, nullptr, &ts);
    if (signo == SIGTERM || signo == SIGINT) {
      spdlog::info("Signal {}: stopping the replicator workers", signo);
      notifier_.Stopping("stopping the replicator workers");
      StopAll(cfg_.stop_timeout);
      spdlog::info("Object replicator exiting.");
      return 0;
    }
    if (signo == SIGHUP) Signal(SIGHUP);
    notifier_.WatchdogPing();
    KillLockedUp();
    Reap();
    auto now = Clock::now();
    for (auto& w : workers_) {
      // Swift's DaemonStrategy restarts a worker that exited; not more than once a second.
      if (w.pid <= 0 && now - w.exited_at >= std::chrono::seconds(1)) Spawn(w);
    }
    if (now < next_check) continue;
    next_check = now + every;
    auto local = LocalDeviceNames(cfg_);
    if (!local.ok()) {
      spdlog::error("Keeping the replicator workers: {}", local.status().message());
    } else if (*local != all_local_) {
      // Swift's is_healthy() is false: new workers for the new set of devices.
      spdlog::info("Local devices changed ({} -> {}); restarting the replicator workers",
                   fmt::join(all_local_, ","), fmt::join(*local, ","));
      StopAll(cfg_.stop_timeout);
      Start(*local);
    }
    Aggregate();
  }
}

}  // namespace

int RunWorkerParent(const ReplicatorConfig& cfg, const WorkerParentArgs& args) {
  auto local = LocalDeviceNames(cfg);
  if (!local.ok()) {
    spdlog::error("{}", local.status().message());
    return 1;
  }
  Parent parent(cfg, args);
  parent.Start(*local);
  if (parent.empty()) {
    if (!args.once) {
      // A daemon waits for devices to appear in the ring instead of exiting.
      spdlog::info("No local devices for the replicator workers; running in one process");
    }
    return -1;
  }
  spdlog::info("Starting object replicator with {} worker processes in {} mode.",
               std::min<size_t>(cfg.replicator_workers, local->size()),
               args.once ? "script" : "daemon");
  return args.once ? parent.RunOnce() : parent.RunForever();
}

}  // namespace replicant
