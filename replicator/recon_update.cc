#include "replicator/recon_update.h"

namespace replicant {
namespace {

nlohmann::json ReconKeys(const ReplicationStats& stats, double minutes, double end_time) {
  return {{"replication_stats", stats.ToRecon()},
          {"replication_time", minutes},
          {"replication_last", end_time},
          {"object_replication_time", minutes},
          {"object_replication_last", end_time}};
}

}  // namespace

nlohmann::json ReconUpdate(const PassSummary& s, double end_time, const nlohmann::json& recon) {
  double minutes = s.seconds / 60.0;
  nlohmann::json update = ReconKeys(s.total, minutes, end_time);
  nlohmann::json per_disk = nlohmann::json::object();
  // Devices run in one worker pool, so each device's pass time is the pass's.
  for (const auto& [dev, stats] : s.per_device) per_disk[dev] = ReconKeys(stats, minutes, end_time);
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
