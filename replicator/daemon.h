// ReplicatorDaemon: the run modes of `replicant replicate` around Replicator passes.
// RunOnce is Swift's script mode (one pass, recon published unless the pass was
// limited by -d/-p/-i). RunForever repeats: pass, then sleep `interval`; SIGHUP
// reloads the configuration before the next pass (a config that fails to load keeps
// the running one); SIGTERM/SIGINT let the jobs in flight finish for at most
// stop_timeout seconds, and a second signal exits at once.
//
// A daemon owns the Replicator, its backend and its operator hooks (ReplicatorOps),
// all rebuilt together on reload. Thread-safety: Run* are called by the main thread;
// the signal thread reaches the current replicator only under the daemon's lock.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/status.h"
#include "replicator/replicator.h"
#include "replicator/replicator_config.h"
#include "replicator/replicator_ops.h"

namespace replicant {

class ReplicatorDaemon {
 public:
  // swift.conf, the backend, the rings and the ops hooks for cfg (a reload reads
  // cfg.config_path again, for the same worker).
  static Result<std::unique_ptr<ReplicatorDaemon>> Create(const ReplicatorConfig& cfg,
                                                          PassOverrides overrides,
                                                          bool publish_recon);
  // Returns the process exit code: 1 when the pass was aborted.
  int RunOnce();
  // SIGTERM/SIGINT/SIGHUP must have been blocked (BlockStopSignals) before any thread
  // started. Returns 0 after a stop signal.
  int RunForever();

 private:
  struct Parts {
    ReplicatorConfig cfg;
    std::unique_ptr<Replicator> replicator;
    std::unique_ptr<ReplicatorOps> ops;
  };
  static Result<Parts> Build(const ReplicatorConfig& cfg);
  ReplicatorDaemon(Parts parts, PassOverrides overrides, bool publish_recon);
  void Reload();
  // Waits `interval` (pinging the watchdog) or until a signal asks to stop or reload;
  // true when a stop was asked.
  bool IdleUntilNextPass();

  Parts parts_;  // guarded by mu_ where the signal thread reads it
  const PassOverrides overrides_;
  const bool publish_recon_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool terminate_ = false;
  bool reload_ = false;
};

}  // namespace replicant
