// replicator_workers (device split, recon aggregation) and lockup_timeout (LockupWatch).
#include <catch2/catch.hpp>

#include <thread>

#include "replicator/lockup_watch.h"
#include "replicator/recon_update.h"
#include "replicator/worker_parent.h"

using namespace replicant;

TEST_CASE("DistributeEvenly deals round-robin, as Swift's distribute_evenly", "[workers]") {
  auto out = DistributeEvenly({"a", "b", "c", "d", "e"}, 2);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == std::vector<std::string>{"a", "c", "e"});
  CHECK(out[1] == std::vector<std::string>{"b", "d"});
  CHECK(DistributeEvenly({"a"}, 3).size() == 3);
}

TEST_CASE("AggregateReconUpdate fills the top level only when every device reported",
          "[workers]") {
  nlohmann::json recon = {{"object_replication_per_disk",
                           {{"sdb1", {{"replication_stats", {{"attempted", 2}, {"success", 4},
                                                             {"failure_nodes", {{"10.0.0.2", {{"sdc", 1}}}}}}},
                                      {"object_replication_time", 2.0},
                                      {"object_replication_last", 100.0},
                                      {"lockups", 1}}},
                            {"sdb2", {{"replication_stats", {{"attempted", 3}, {"success", 6},
                                                             {"failure_nodes", {{"10.0.0.2", {{"sdc", 2}}}}}}},
                                      {"object_replication_time", 1.0},
                                      {"object_replication_last", 90.0}}},
                            {"old", {{"replication_stats", {{"attempted", 0}}}}}}}};
  // sdb3 has not reported: nothing aggregated, but the old device's entry goes.
  auto u = AggregateReconUpdate(recon, {"sdb1", "sdb2", "sdb3"});
  CHECK_FALSE(u.contains("replication_stats"));
  CHECK(u["object_replication_per_disk"]["old"] == nlohmann::json::object());
  recon["object_replication_per_disk"].erase("old");
  u = AggregateReconUpdate(recon, {"sdb1", "sdb2"});
  CHECK(u["replication_stats"]["attempted"] == 5);
  CHECK(u["replication_stats"]["success"] == 10);
  CHECK(u["replication_stats"]["failure_nodes"]["10.0.0.2"]["sdc"] == 3);
  CHECK(u["replication_last"].get<double>() == 90.0);
  CHECK(u["object_replication_time"].get<double>() == 1.0);
  CHECK(u["replicant_lockups"] == 1);
  CHECK_FALSE(u.contains("object_replication_per_disk"));
}

TEST_CASE("A worker's ReconUpdate holds its per-disk entries only", "[workers]") {
  PassSummary s;
  s.seconds = 60;
  s.per_device["sdb1"].attempted = 3;
  s.per_device["sdb1"].lockups = 2;
  nlohmann::json recon = {{"object_replication_per_disk", {{"sdb2", {{"lockups", 0}}}}}};
  auto u = ReconUpdate(s, 10.0, recon, /*worker=*/true);
  CHECK(u.size() == 1);
  CHECK(u["object_replication_per_disk"].size() == 1);  // sdb2 (another worker's) untouched
  CHECK(u["object_replication_per_disk"]["sdb1"]["lockups"] == 2);
  auto whole = ReconUpdate(s, 10.0, recon);
  CHECK(whole["replicant_lockups"] == 2);
}

TEST_CASE("LockupWatch reports a busy device without progress once", "[workers]") {
  LockupWatch w(0.05);
  auto busy = w.Enter("sdb1");
  auto idle = w.Enter("sdb2");
  idle.Reset();  // sdb2 is not busy: waiting is no lockup
  w.Where("sdb1", "7 policy 0", "-");
  CHECK(w.Check().empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  auto l = w.Check();
  REQUIRE(l.size() == 1);
  CHECK(l[0].device == "sdb1");
  CHECK(l[0].partition == "7 policy 0");
  CHECK(l[0].busy == 1);
  CHECK(w.Cancelled("sdb1"));
  CHECK_FALSE(w.Cancelled("sdb2"));
  CHECK(w.Check().empty());  // once
  LockupWatch moving(0.05);
  auto b = moving.Enter("sdc1");
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    moving.Progress("sdc1");
    CHECK(moving.Check().empty());
  }
  LockupWatch off(0);
  auto o = off.Enter("sdd1");
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(off.Check().empty());
}
