#include "replicator/statsd.h"

#include <netdb.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

namespace replicant {

Result<StatsdOptions> StatsdOptionsFromSection(const ConfigSection& s,
                                               const std::string& tail_prefix) {
  StatsdOptions o;
  o.host = s.GetString("log_statsd_host", "");
  o.metric_prefix = s.GetString("log_statsd_metric_prefix", "");
  o.tail_prefix = tail_prefix;
  auto port = s.GetInt("log_statsd_port", o.port);
  if (!port.ok()) return port.status();
  if (*port <= 0 || *port > 65535) {
    return Status::InvalidArgument(s.source() + ": [" + s.name() +
                                   "] log_statsd_port: must be a port number");
  }
  o.port = static_cast<int>(*port);
  auto rate = s.GetDouble("log_statsd_default_sample_rate", o.default_sample_rate);
  if (!rate.ok()) return rate.status();
  o.default_sample_rate = *rate;
  auto factor = s.GetDouble("log_statsd_sample_rate_factor", o.sample_rate_factor);
  if (!factor.ok()) return factor.status();
  o.sample_rate_factor = *factor;
  return o;
}

std::string StatsdLine(const std::string& prefix, const std::string& metric,
                       const std::string& value, const char* type, double sample_rate) {
  std::string line = fmt::format("{}{}:{}|{}", prefix, metric, value, type);
  if (sample_rate < 1) line += fmt::format("|@{}", sample_rate);
  return line;
}

Result<std::unique_ptr<StatsdClient>> StatsdClient::Create(const StatsdOptions& o) {
  std::unique_ptr<StatsdClient> c(new StatsdClient(o));
  if (o.host.empty()) return c;
  // Swift's StatsdClient._set_prefix: only the non-empty parts, each followed by ".".
  for (const auto* part : {&o.metric_prefix, &o.tail_prefix}) {
    if (!part->empty()) c->prefix_ += *part + ".";
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(o.port);
  int rc = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || !res) {
    return Status::InvalidArgument("log_statsd_host " + o.host + ": " + gai_strerror(rc));
  }
  c->fd_ = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c->fd_ < 0) {
    freeaddrinfo(res);
    return Status::FromErrno("statsd socket", errno);
  }
  std::memcpy(&c->addr_, res->ai_addr, res->ai_addrlen);
  c->addr_len_ = res->ai_addrlen;
  freeaddrinfo(res);
  return c;
}

StatsdClient::~StatsdClient() {
  if (fd_ >= 0) close(fd_);
}

void StatsdClient::Send(const std::string& metric, const std::string& value, const char* type) {
  if (fd_ < 0) return;
  double rate = o_.default_sample_rate * o_.sample_rate_factor;
  if (rate < 1) {
    std::lock_guard<std::mutex> l(rng_mu_);
    if (std::uniform_real_distribution<double>(0, 1)(rng_) >= rate) return;
  }
  std::string line = StatsdLine(prefix_, metric, value, type, rate);
  // Best effort, as in Swift: a full buffer or an unreachable port loses the metric.
  (void)sendto(fd_, line.data(), line.size(), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
}

void StatsdClient::UpdateStats(const std::string& metric, int64_t delta) {
  Send(metric, std::to_string(delta), "c");
}

void StatsdClient::Timing(const std::string& metric, double milliseconds) {
  Send(metric, fmt::format("{}", milliseconds), "ms");
}

}  // namespace replicant
