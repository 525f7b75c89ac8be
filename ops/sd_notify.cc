#include "ops/sd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>

#include <spdlog/spdlog.h>

namespace replicant {
namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
  const char* sock = std::getenv("NOTIFY_SOCKET");
  enabled_ = sock && *sock;
  uint64_t usec = 0;
  // unset_environment = 0: a re-exec'd or forked helper (rsync) is no business of ours,
  // but keeping the variables lets a reloaded configuration see them again.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_ = std::chrono::microseconds(usec);
}

void SystemdNotifier::Send(const std::string& state) {
  if (!enabled_) return;
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) spdlog::warn("sd_notify({}): error {}", state.substr(0, state.find('\n')), -rc);
}

void SystemdNotifier::Ready(const std::string& status) { Send("READY=1\nSTATUS=" + status); }

void SystemdNotifier::SetStatus(const std::string& status) { Send("STATUS=" + status); }

void SystemdNotifier::Stopping(const std::string& status) { Send("STOPPING=1\nSTATUS=" + status); }

void SystemdNotifier::WatchdogPing() {
  if (!enabled_ || watchdog_.count() == 0) return;
  int64_t now = NowUs();
  int64_t last = last_ping_us_.load();
  if (now - last < watchdog_.count() / 4) return;
  if (!last_ping_us_.compare_exchange_strong(last, now)) return;  // another thread pinged
  Send("WATCHDOG=1");
}

}  // namespace replicant
