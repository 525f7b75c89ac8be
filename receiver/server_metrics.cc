#include "receiver/server_metrics.h"

namespace replicant::receiver {
namespace {

const std::string& MethodLabel(const std::string& method) {
  static const std::string kKnown[] = {"GET", "HEAD", "PUT", "POST", "DELETE", "REPLICATE",
                                       "SSYNC", "REPCONN", "OPTIONS"};
  static const std::string kOther = "other";
  for (const auto& m : kKnown) {
    if (m == method) return m;
  }
  return kOther;
}

}  // namespace

void ServerMetrics::RequestFinished(const std::string& method, int status,
                                    uint64_t bytes_received) {
  bytes_ += bytes_received;
  in_flight_--;
  std::lock_guard<std::mutex> l(mu_);
  requests_[{MethodLabel(method), status}]++;
}

ServerMetrics::Snapshot ServerMetrics::Get() const {
  Snapshot s;
  {
    std::lock_guard<std::mutex> l(mu_);
    s.requests = requests_;
  }
  s.bytes_received = bytes_;
  s.in_flight = in_flight_;
  return s;
}

}  // namespace replicant::receiver
