#include "ops/signal_watcher.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <ctime>

namespace replicant {
namespace {

sigset_t StopSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockStopSignals() {
  sigset_t set = StopSignalSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher(Hooks hooks) : hooks_(std::move(hooks)), thread_([this] { Watch(); }) {}

SignalWatcher::~SignalWatcher() { Join(); }

void SignalWatcher::Finished() {
  std::lock_guard<std::mutex> l(mu_);
  finished_ = true;
}

void SignalWatcher::Join() {
  if (thread_.joinable()) thread_.join();
}

void SignalWatcher::Watch() {
  sigset_t set = StopSignalSet();
  for (;;) {
    int signo = 0;
    if (sigwait(&set, &signo) != 0) continue;
    if (signo == SIGHUP) {
      if (hooks_.on_reload) hooks_.on_reload();
      continue;
    }
    std::optional<double> grace = hooks_.on_stop(signo);
    if (grace) WaitOutGrace(*grace);
    return;
  }
}

// Polls in slices of 100 ms so that Finished() ends the wait promptly while a second
// stop signal is still taken synchronously.
void SignalWatcher::WaitOutGrace(double grace) {
  using Clock = std::chrono::steady_clock;
  sigset_t set = StopSignalSet();
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(grace));
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (finished_) return;
    }
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return hooks_.on_exit_now("stop_timeout reached");
    auto slice = std::min<Clock::duration>(left, std::chrono::milliseconds(100));
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slice).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    int signo = sigtimedwait(&set, nullptr, &ts);
    if (signo == SIGTERM || signo == SIGINT) return hooks_.on_exit_now("second stop signal");
  }
}

}  // namespace replicant
