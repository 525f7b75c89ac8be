// SignalWatcher: how replicant's daemons (`replicant replicate`, `replicant serve`)
// take SIGTERM, SIGINT and SIGHUP. BlockStopSignals() runs in the main thread before
// any other thread starts, so every thread inherits the mask; then one watcher thread
// takes the signals with sigwait, and no handler ever runs inside a worker thread.
//
// SIGHUP calls on_reload. The first SIGTERM/SIGINT calls on_stop, which returns the
// grace the daemon gets to finish its work in flight: if Finished() has not been
// called when it runs out, or a second stop signal comes, on_exit_now(why) runs (it
// is expected to _exit). When on_stop returns no grace, the watcher ends there.
// Thread-safety: the hooks run on the watcher thread; Finished() and Join() may be
// called from any one other thread.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace replicant {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the threads it starts).
void BlockStopSignals();

class SignalWatcher {
 public:
  struct Hooks {
    std::function<void()> on_reload;
    std::function<std::optional<double>(int signo)> on_stop;
    std::function<void(const char* why)> on_exit_now;
  };
  // Starts the watcher thread; the signals must be blocked already.
  explicit SignalWatcher(Hooks hooks);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // The daemon's work in flight is done: the grace no longer runs.
  void Finished();
  void Join();

 private:
  void Watch();
  void WaitOutGrace(double grace);

  Hooks hooks_;
  std::mutex mu_;
  bool finished_ = false;
  std::thread thread_;  // last: starts after every member it uses
};

}  // namespace replicant
