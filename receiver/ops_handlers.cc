#include "receiver/ops_handlers.h"

#include "ops/progress_file.h"

namespace replicant {
namespace {

constexpr const char* kStatNames[] = {"attempted", "success", "failure", "hashmatch", "rsync",
                                      "remove", "suffix_count", "suffix_hash", "suffix_sync"};
// replicant's own counters in the same per-device stats.
constexpr const char* kSentNames[] = {"files_sent", "bytes_sent"};

double Num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}

// The member `key` when it is an object, else an empty object; a reference, so that
// range-for loops over its items() never iterate a destroyed temporary.
const nlohmann::json& Obj(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

// One family per counter (replicant_replicator_<prefix>_<stat>), a sample per device.
void AddStats(const nlohmann::json& per_device, const std::string& prefix,
              const std::string& when, PromText& out) {
  for (const char* stat : kStatNames) {
    for (const auto& [dev, stats] : per_device.items()) {
      out.Gauge("replicant_replicator_" + prefix + "_" + stat,
                "Swift replication_stats '" + std::string(stat) + "' of " + when + ", per device",
                Num(stats, stat), {{"device", dev}});
    }
  }
  for (const char* stat : kSentNames) {
    for (const auto& [dev, stats] : per_device.items()) {
      out.Gauge("replicant_replicator_" + prefix + "_" + stat,
                std::string(stat) + " by the sync backend in " + when + ", per device",
                Num(stats, stat), {{"device", dev}});
    }
  }
  for (const auto& [dev, stats] : per_device.items()) {
    out.Gauge("replicant_replicator_" + prefix + "_lockups",
              "Times the device's jobs were cancelled after lockup_timeout without progress "
              "in " + when + ", per device",
              Num(stats, "lockups"), {{"device", dev}});
  }
}

}  // namespace

void AddProgressMetrics(const nlohmann::json& p, PromText& out) {
  out.Gauge("replicant_replicator_progress_updated_timestamp_seconds",
            "When the replicator last rewrote its progress file", Num(p, "updated"));
  const auto& pass = Obj(p, "pass");
  bool running = p.contains("pass") && p["pass"].is_object();
  out.Gauge("replicant_replicator_pass_running", "1 while a replication pass runs",
            running ? 1 : 0);
  if (running) {
    out.Gauge("replicant_replicator_pass_start_timestamp_seconds",
              "When the running pass started", Num(pass, "start"));
  }
  nlohmann::json stats = nlohmann::json::object();
  for (const auto& [dev, d] : Obj(p, "devices").items()) {
    for (const auto& [policy, c] : Obj(d, "policies").items()) {
      PromText::Labels l = {{"device", dev}, {"policy", policy}};
      out.Gauge("replicant_replicator_partitions_total",
                "Partitions of the current (or last) pass, per device and policy",
                Num(c, "partitions_total"), l);
      out.Gauge("replicant_replicator_partitions_done",
                "Partitions done in the current (or last) pass, per device and policy",
                Num(c, "partitions_done"), l);
    }
    stats[dev] = Obj(d, "stats");
  }
  AddStats(stats, "pass", "the current (or last) pass", out);
  for (const auto& [ip, devs] : Obj(p, "failures_by_peer").items()) {
    for (const auto& [dev, n] : devs.items()) {
      out.Gauge("replicant_replicator_peer_failures",
                "Failed syncs to each peer device in the current (or last) pass",
                n.is_number() ? n.get<double>() : 0, {{"peer", ip}, {"device", dev}});
    }
  }
  if (const auto& pr = Obj(p, "priority"); !pr.empty()) {
    out.Gauge("replicant_replicator_priority_running", "1 while priority jobs run",
              pr.value("running", false) ? 1 : 0);
    out.Gauge("replicant_replicator_priority_jobs", "Priority jobs of the current (or last) run",
              Num(pr, "jobs_total"));
    out.Gauge("replicant_replicator_priority_jobs_done",
              "Priority jobs done in the current (or last) run", Num(pr, "jobs_done"));
    out.Counter("replicant_replicator_priority_jobs_total",
                "Priority jobs finished since start-up, by result", Num(pr, "done_all"),
                {{"result", "done"}});
    out.Counter("replicant_replicator_priority_jobs_total",
                "Priority jobs finished since start-up, by result", Num(pr, "failed_all"),
                {{"result", "failed"}});
    out.Counter("replicant_replicator_priority_bytes_total",
                "Bytes priority jobs sent since start-up", Num(pr, "bytes_all"));
  }
  const auto& last = Obj(p, "last_pass");
  if (!last.empty()) {
    out.Gauge("replicant_replicator_last_pass_end_timestamp_seconds",
              "When the last finished pass ended", Num(last, "end"));
    out.Gauge("replicant_replicator_last_pass_duration_seconds", "Length of the last pass",
              Num(last, "seconds"));
    out.Gauge("replicant_replicator_last_pass_partitions", "Partitions of the last pass",
              Num(last, "partitions"));
    out.Gauge("replicant_replicator_last_pass_aborted", "1 when the last pass was aborted",
              last.value("aborted", false) ? 1 : 0);
    out.Gauge("replicant_replicator_last_pass_handoffs_remaining",
              "Handoff partitions left after the last pass", Num(last, "handoffs_remaining"));
    AddStats(Obj(last, "per_device"), "last_pass", "the last pass", out);
  }
}

void AddServerMetrics(const receiver::ServerMetrics::Snapshot& s, int ssync_sessions,
                      PromText& out) {
  for (const auto& [key, n] : s.requests) {
    out.Counter("replicant_server_requests_total", "Requests answered, by method and status",
                static_cast<double>(n),
                {{"method", key.first}, {"status", std::to_string(key.second)}});
  }
  out.Counter("replicant_server_received_bytes_total", "Bytes received from clients",
              static_cast<double>(s.bytes_received));
  out.Gauge("replicant_server_requests_in_flight", "Requests being served (this one included)",
            static_cast<double>(s.in_flight));
  out.Gauge("replicant_server_ssync_sessions_in_flight", "SSYNC sessions holding a slot",
            ssync_sessions);
}

void RegisterOpsHandlers(receiver::Server& server, std::string progress_path) {
  server.Register("GET", [path = std::move(progress_path)](receiver::Exchange& ex) -> Status {
    const std::string& target = ex.request().path;
    if (target == "/metrics") {
      PromText out;
      auto doc = ReadProgressFile(path);
      out.Gauge("replicant_replicator_progress_available",
                "1 when the replicator's progress file could be read", doc.ok() ? 1 : 0);
      if (doc.ok()) AddProgressMetrics(*doc, out);
      auto& ctx = ex.context();
      AddServerMetrics(ctx.metrics.Get(), ctx.slots.in_use(), out);
      return ex.Respond(200, out.Render(), {{"Content-Type", kPrometheusContentType}});
    }
    if (target == "/progress") {
      auto doc = ReadProgressFile(path);
      if (!doc.ok()) {
        int code = doc.status().code() == Status::Code::kNotFound ? 404 : 500;
        nlohmann::json err = {{"error", doc.status().message()}};
        return ex.Respond(code, err.dump() + "\n", {{"Content-Type", "application/json"}});
      }
      return ex.Respond(200, doc->dump() + "\n", {{"Content-Type", "application/json"}});
    }
    return receiver::RespondMethodNotAllowed(ex);
  });
}

}  // namespace replicant
