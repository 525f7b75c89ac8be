// StatsdClient: Swift's StatsD metrics over UDP, with Swift's option names
// (log_statsd_host, log_statsd_port = 8125, log_statsd_metric_prefix,
// log_statsd_default_sample_rate, log_statsd_sample_rate_factor) and wire format:
// "<metric_prefix>.<log_name>.<metric>:<value>|c|@<rate>" (counters) and "...|ms"
// (timings), one datagram per metric, lost silently when nobody listens.
//
// Disabled (every call a no-op) when log_statsd_host is empty. Thread-safe: one UDP
// socket is shared and sendto(2) is atomic per datagram.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <random>
#include <mutex>
#include <string>

#include "formats/config.h"
#include "base/status.h"

namespace replicant {

struct StatsdOptions {
  std::string host;  // empty: disabled
  int port = 8125;
  std::string metric_prefix;   // log_statsd_metric_prefix
  std::string tail_prefix;     // the daemon's log_name, as Swift's get_logger uses it
  double default_sample_rate = 1;
  double sample_rate_factor = 1;
};

// Reads the log_statsd_* options of a section; tail_prefix is the given log name.
Result<StatsdOptions> StatsdOptionsFromSection(const ConfigSection& s,
                                               const std::string& tail_prefix);

// The datagram Swift sends for one metric (no sampling decision): exposed for tests.
std::string StatsdLine(const std::string& prefix, const std::string& metric,
                       const std::string& value, const char* type, double sample_rate);

class StatsdClient {
 public:
  // Resolves the host once; an unresolvable host is an error (Swift logs and drops).
  static Result<std::unique_ptr<StatsdClient>> Create(const StatsdOptions& o);
  ~StatsdClient();

  void Increment(const std::string& metric) { UpdateStats(metric, 1); }
  void UpdateStats(const std::string& metric, int64_t delta);
  void Timing(const std::string& metric, double milliseconds);

 private:
  explicit StatsdClient(const StatsdOptions& o) : o_(o) {}
  void Send(const std::string& metric, const std::string& value, const char* type);

  StatsdOptions o_;
  std::string prefix_;
  int fd_ = -1;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  std::mutex rng_mu_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace replicant
