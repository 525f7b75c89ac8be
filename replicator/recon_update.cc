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

nlohmann::json ReconUpdate(const PassSummary& s, double end_time) {
  double minutes = s.seconds / 60.0;
  nlohmann::json update = ReconKeys(s.total, minutes, end_time);
  nlohmann::json per_disk = nlohmann::json::object();
  // Devices run in one worker pool, so each device's pass time is the pass's.
  for (const auto& [dev, stats] : s.per_device) per_disk[dev] = ReconKeys(stats, minutes, end_time);
  // DumpReconCache treats an empty dict as "delete the key": only write a non-empty one.
  if (!per_disk.empty()) update["object_replication_per_disk"] = per_disk;
  return update;
}

}  // namespace replicant
