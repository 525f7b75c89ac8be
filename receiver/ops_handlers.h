// The operations endpoints of `replicant serve`, on its replication port:
//   GET /metrics   Prometheus text: the replicator's progress and last pass (read from
//                  the progress file the replicator on this node writes) and the
//                  server's own counters (requests by method and status, bytes
//                  received, requests and SSYNC sessions in flight).
//   GET /progress  the progress file's JSON document, per device (404 before the
//                  replicator has written one).
// Any other GET answers 405, as Swift's object server does on its replication port,
// so object-path GETs behave as before. Handlers are thread-safe (they only read).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "receiver/server.h"
#include "ops/prometheus_text.h"

namespace replicant {

// The replicator's figures of a progress document (see progress.h).
void AddProgressMetrics(const nlohmann::json& progress, PromText& out);
void AddServerMetrics(const receiver::ServerMetrics::Snapshot& s, int ssync_sessions,
                      PromText& out);
// Registers GET; progress_path is the replicator's progress file.
void RegisterOpsHandlers(receiver::Server& server, std::string progress_path);

}  // namespace replicant
