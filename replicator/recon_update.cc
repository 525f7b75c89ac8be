#include "replicator/recon_update.h"

#include <algorithm>

namespace replicant {
namespace {

nlohmann::json ReconKeys(const ReplicationStats& stats, double minutes, double end_time) {
  return {{"replication_stats", stats.ToRecon()},
          {"replication_time", minutes},
          {"replication_last", end_time},
          {"object_replication_time", minutes},
          {"object_replication_last", end_time}};
}

// Swift's Stats.__add__ on recon dicts: numbers summed, failure_nodes merged.
void AddReconStats(nlohmann::json& into, const nlohmann::json& stats) {
  if (!stats.is_object()) return;
  for (const auto& [key, v] : stats.items()) {
    if (v.is_number()) {
      into[key] = into.value(key, 0.0) + v.get<double>();
    } else if (key == "failure_nodes" && v.is_object()) {
      for (const auto& [ip, devs] : v.items()) {
        if (!devs.is_object()) continue;
        for (const auto& [dev, n] : devs.items()) {
          if (!n.is_number()) continue;
          auto& slot = into["failure_nodes"][ip][dev];
          slot = (slot.is_number() ? slot.get<double>() : 0.0) + n.get<double>();
        }
      }
    }
  }
}

// Whole numbers back to integers, as Swift writes them.
void Integral(nlohmann::json& j) {
  if (j.is_object()) {
    for (auto& [_, v] : j.items()) Integral(v);
  } else if (j.is_number_float() && j.get<double>() == static_cast<int64_t>(j.get<double>())) {
    j = static_cast<int64_t>(j.get<double>());
  }
}

}  // namespace

nlohmann::json AggregateReconUpdate(const nlohmann::json& recon,
                                    const std::vector<std::string>& all_local) {
  nlohmann::json update = nlohmann::json::object();
  if (!recon.is_object()) return update;
  auto it = recon.find("object_replication_per_disk");
  const nlohmann::json per_disk =
      it != recon.end() && it->is_object() ? *it : nlohmann::json::object();
  bool all = std::all_of(all_local.begin(), all_local.end(),
                         [&](const std::string& d) {
                           // An entry with only a lockup count (a killed worker's) is no report.
                           return per_disk.contains(d) && per_disk[d].is_object() &&
                                  per_disk[d].contains("replication_stats");
                         });
  if (all && !all_local.empty()) {
    nlohmann::json stats = {{"failure_nodes", nlohmann::json::object()}};
    double min_time = 1e300, min_last = 1e300, lockups = 0;
    for (const auto& [dev, data] : per_disk.items()) {
      if (!data.is_object() || !data.contains("replication_stats")) continue;
      AddReconStats(stats, data.value("replication_stats", nlohmann::json::object()));
      min_time = std::min(min_time, data.value("object_replication_time", 0.0));
      min_last = std::min(min_last, data.value("object_replication_last", 0.0));
      lockups += data.value("lockups", 0.0);
    }
    Integral(stats);
    update["replication_stats"] = stats;
    update["replication_time"] = update["object_replication_time"] = min_time;
    update["replication_last"] = update["object_replication_last"] = min_last;
    update["replicant_lockups"] = static_cast<int64_t>(lockups);
  }
  nlohmann::json gone = nlohmann::json::object();
  for (const auto& [dev, _] : per_disk.items()) {
    if (std::find(all_local.begin(), all_local.end(), dev) == all_local.end()) {
      gone[dev] = nlohmann::json::object();
    }
  }
  if (!gone.empty()) update["object_replication_per_disk"] = gone;
  return update;
}

nlohmann::json ReconUpdate(const PassSummary& s, double end_time, const nlohmann::json& recon,
                           bool worker) {
  double minutes = s.seconds / 60.0;
  nlohmann::json update = ReconKeys(s.total, minutes, end_time);
  nlohmann::json per_disk = nlohmann::json::object();
  // Devices run in one worker pool, so each device's pass time is the pass's.
  int64_t lockups = 0;
  for (const auto& [dev, stats] : s.per_device) {
    per_disk[dev] = ReconKeys(stats, minutes, end_time);
    // replicant's own key, next to Swift's: this pass's lockup_timeout cancellations.
    per_disk[dev]["lockups"] = stats.lockups;
    lockups += stats.lockups;
  }
  if (worker) return {{"object_replication_per_disk", per_disk}};
  update["replicant_lockups"] = lockups;
  // DumpReconCache deletes a key whose value is an empty dict.
  if (recon.is_object() && recon.contains("object_replication_per_disk") &&
      recon["object_replication_per_disk"].is_object()) {
    for (const auto& [dev, _] : recon["object_replication_per_disk"].items()) {
      if (!s.per_device.count(dev)) per_disk[dev] = nlohmann::json::object();
    }
  }
  // ...and the whole per-disk dict when it is empty: only write a non-empty one.
  if (!per_disk.empty()) update["object_replication_per_disk"] = per_disk;
  return update;
}

}  // namespace replicant
