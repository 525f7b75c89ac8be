// ReplicatorOps: everything `replicant replicate` does for operators around its
// passes: StatsD metrics, the progress file, recon, and systemd notifications
// (READY=1, STATUS=, WATCHDOG=1, STOPPING=1).
//
// Watchdog pings come only from the pass's own progress (a job finished, a counter
// moved: worker threads) and from the main thread between passes, never from a
// timer thread, so a stuck pass stops them and systemd restarts the daemon.
// The pass hooks are thread-safe; the other methods are called by the main thread,
// except Stopping(), which the signal thread may call.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "replicator/pass_observer.h"
#include "replicator/progress.h"
#include "replicator/replication_statsd.h"
#include "replicator/replicator.h"
#include "ops/sd_notify.h"
#include "replicator/statsd.h"

namespace replicant {

class ReplicatorOps {
 public:
  // Reads the log_statsd_* options from the config's [object-replicator] section.
  static Result<std::unique_ptr<ReplicatorOps>> Create(const ReplicatorConfig& cfg);

  // The hooks to give Replicator::SetObserver.
  PassObserver* observer() { return &observers_; }
  SystemdNotifier& notifier() { return notifier_; }

  void Ready(const std::string& mode);
  void PassStarting();
  // Logs nothing; publishes recon (unless `publish_recon` is false), progress, STATUS=.
  void PassFinished(const PassSummary& s, bool publish_recon);
  void Stopping();
  // The daemon is about to exit (the progress file says "stopped").
  void Exited();
  // Sleeps `seconds` (or until wait_for(step seconds) returns true), pinging the watchdog meanwhile.
  template <typename Wait>
  void IdleWait(double seconds, Wait&& wait_for);

 private:
  class WatchdogObserver : public PassObserver {
   public:
    explicit WatchdogObserver(SystemdNotifier& n) : n_(n) {}
    void JobFinished(const PartitionJob&, double) override { n_.WatchdogPing(); }
    void StatsChanged(const std::string&, const ReplicationStats&,
                      const ReplicationStats&) override {
      n_.WatchdogPing();
    }

   private:
    SystemdNotifier& n_;
  };

  explicit ReplicatorOps(const ReplicatorConfig& cfg);

  ReplicatorConfig cfg_;
  SystemdNotifier notifier_;
  std::unique_ptr<StatsdClient> statsd_;
  std::unique_ptr<ReplicationStatsd> statsd_observer_;
  ProgressTracker progress_;
  WatchdogObserver watchdog_{notifier_};
  ObserverList observers_;
  int passes_ = 0;
};

template <typename Wait>
void ReplicatorOps::IdleWait(double seconds, Wait&& wait_for) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  // Between passes nothing runs, so the main thread itself keeps the watchdog fed.
  double step = notifier_.watchdog_period().count() > 0
                    ? std::chrono::duration<double>(notifier_.watchdog_period()).count() / 4
                    : seconds;
  while (std::chrono::steady_clock::now() < end) {
    notifier_.WatchdogPing();
    double left = std::chrono::duration<double>(end - std::chrono::steady_clock::now()).count();
    if (wait_for(std::min(step, std::max(0.0, left)))) return;
  }
}

}  // namespace replicant
