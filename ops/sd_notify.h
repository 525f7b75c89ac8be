// SystemdNotifier: tells systemd (Type=notify units) how a daemon is doing, through
// libsystemd's sd_notify: READY=1 once serving, STATUS= lines for `systemctl status`,
// WATCHDOG=1 pings while work makes progress, STOPPING=1 on shutdown.
//
// Without NOTIFY_SOCKET (not started by systemd) every call is a cheap no-op.
// Watchdog pings are rate-limited to a few per WatchdogSec and are meant to be sent
// only from threads whose progress they vouch for (a stuck pass must stop them).
// Thread-safe: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace replicant {

class SystemdNotifier {
 public:
  SystemdNotifier();

  bool enabled() const { return enabled_; }
  // The watchdog period systemd asked for (WATCHDOG_USEC), or zero when it did not.
  std::chrono::microseconds watchdog_period() const { return watchdog_; }

  void Ready(const std::string& status);
  void SetStatus(const std::string& status);
  void Stopping(const std::string& status);
  // WATCHDOG=1, at most once per watchdog_period()/4 (and never when not asked for).
  void WatchdogPing();

 private:
  void Send(const std::string& state);

  bool enabled_ = false;
  std::chrono::microseconds watchdog_{0};
  std::atomic<int64_t> last_ping_us_{0};
};

}  // namespace replicant
