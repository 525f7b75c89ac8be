// ServerMetrics: what `replicant serve` counts about itself for GET /metrics:
// requests finished by method and status, bytes received from clients, and requests
// in flight. Methods outside the known set are counted as "other", so a client
// cannot grow the table without bound. Thread-safe: connection threads record.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace replicant::receiver {

class ServerMetrics {
 public:
  struct Snapshot {
    std::map<std::pair<std::string, int>, uint64_t> requests;  // (method, status) -> count
    uint64_t bytes_received = 0;
    int64_t in_flight = 0;
  };

  void RequestStarted() { in_flight_++; }
  void RequestFinished(const std::string& method, int status, uint64_t bytes_received);
  // Bytes of a request that never reached a handler (a bad head, an idle close).
  void AddBytes(uint64_t n) { bytes_ += n; }
  Snapshot Get() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace replicant::receiver
