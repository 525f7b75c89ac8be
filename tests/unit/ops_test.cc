// The operations pieces that are pure functions: StatsD lines, Prometheus text, the
// status views, the recon update and the progress tracker's document.
#include <catch2/catch.hpp>

#include <filesystem>

#include "replicator/progress.h"
#include "ops/prometheus_text.h"
#include "replicator/recon_update.h"
#include "receiver/ops_handlers.h"
#include "replicator/statsd.h"
#include "cli/status_view.h"

using namespace replicant;

TEST_CASE("StatsdLine has Swift's wire format", "[ops]") {
  CHECK(StatsdLine("p.object-replicator.", "suffix.syncs", "3", "c", 1) ==
        "p.object-replicator.suffix.syncs:3|c");
  CHECK(StatsdLine("", "partition.update.timing", "12.5", "ms", 0.5) ==
        "partition.update.timing:12.5|ms|@0.5");
}

TEST_CASE("PromText groups families and escapes labels", "[ops]") {
  PromText t;
  t.Counter("x_total", "help x", 3, {{"a", "q\"\\\n"}});
  t.Gauge("y", "help y", 0.25);
  t.Counter("x_total", "help x", 4, {{"a", "b"}});
  CHECK(t.Render() ==
        "# HELP x_total help x\n# TYPE x_total counter\nx_total{a=\"q\\\"\\\\\\n\"} 3\n"
        "x_total{a=\"b\"} 4\n# HELP y help y\n# TYPE y gauge\ny 0.25\n");
}

TEST_CASE("StatusJson computes rate and ETA from the document", "[ops]") {
  nlohmann::json doc = {
      {"updated", 1000.0},
      {"pass", {{"number", 2}, {"start", 900.0}}},
      {"devices",
       {{"sdb1", {{"partitions_total", 40}, {"partitions_done", 10}, {"pass_start", 900.0}}},
        {"sdc1", {{"partitions_total", 5}, {"partitions_done", 0}, {"pass_start", 900.0}}}}}};
  auto st = StatusJson(doc, 1000.0);
  CHECK(st["devices"]["sdb1"]["rate"].get<double>() == Approx(0.1));
  CHECK(st["devices"]["sdb1"]["eta_seconds"].get<double>() == Approx(300));
  CHECK(st["devices"]["sdb1"]["percent"].get<double>() == Approx(25));
  CHECK(st["devices"]["sdc1"]["eta_seconds"].is_null());
  std::string view = RenderStatus(st, 100);
  CHECK(view.find("sdb1") != std::string::npos);
  CHECK(view.find("ETA 5m00s") != std::string::npos);
  CHECK(view.find("no pass has finished yet") != std::string::npos);
  CHECK(FormatDuration(3725) == "1h02m");
}

TEST_CASE("ReconUpdate has Swift's keys and per-disk entries", "[ops]") {
  PassSummary s;
  s.seconds = 120;
  s.per_device["sdb1"].attempted = 3;
  s.per_device["sdc1"].attempted = 4;
  s.total.attempted = 7;
  auto u = ReconUpdate(s, 5000.0, nlohmann::json());
  CHECK(u["replication_time"].get<double>() == Approx(2.0));
  CHECK(u["object_replication_last"].get<double>() == 5000.0);
  CHECK(u["replication_stats"]["attempted"] == 7);
  CHECK(u["object_replication_per_disk"]["sdc1"]["replication_stats"]["attempted"] == 4);
  CHECK(u["object_replication_per_disk"]["sdb1"]["object_replication_time"].get<double>() ==
        Approx(2.0));
}

TEST_CASE("ReconUpdate removes the per-disk entries of devices no longer local", "[ops]") {
  auto dir = std::filesystem::temp_directory_path() / ("replicant-recon-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "object.recon").string();
  PassSummary s;
  s.seconds = 60;
  s.per_device["sdb1"].attempted = 1;
  s.per_device["gone"].attempted = 2;
  REQUIRE(DumpReconCache(ReconUpdate(s, 1000.0, LoadReconCache(path)), path).ok());
  CHECK(LoadReconCache(path)["object_replication_per_disk"].contains("gone"));
  s.per_device.erase("gone");  // the device left the ring
  REQUIRE(DumpReconCache(ReconUpdate(s, 2000.0, LoadReconCache(path)), path).ok());
  auto recon = LoadReconCache(path);
  CHECK_FALSE(recon["object_replication_per_disk"].contains("gone"));
  CHECK(recon["object_replication_per_disk"]["sdb1"]["replication_last"].get<double>() == 2000.0);
  CHECK(LoadReconCache((dir / "missing").string()) == nlohmann::json::object());
  std::filesystem::remove_all(dir);
}

TEST_CASE("ProgressTracker counts jobs per device and policy and writes the file", "[ops]") {
  auto dir = std::filesystem::temp_directory_path() / ("replicant-progress-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = ProgressFilePath(dir.string());
  {
    ProgressTracker t(path, "rsync", 0.05);
    std::vector<PartitionJob> jobs(3);
    jobs[0].sync.device = "sdb1";
    jobs[1].sync.device = "sdb1";
    jobs[1].sync.policy_index = 1;
    jobs[1].sync.is_handoff = true;
    jobs[2].sync.device = "sdc1";
    t.PassStarted(replicant::JobList(jobs));
    t.JobFinished(jobs[1], 0.1);
    auto snap = t.Snapshot();
    CHECK(snap["state"] == "running");
    CHECK(snap["devices"]["sdb1"]["partitions_total"] == 2);
    CHECK(snap["devices"]["sdb1"]["partitions_done"] == 1);
    CHECK(snap["devices"]["sdb1"]["handoffs_total"] == 1);
    CHECK(snap["devices"]["sdb1"]["policies"]["1"]["partitions_done"] == 1);
    CHECK(snap["pass"]["partitions_total"] == 3);
    PassSummary s;
    s.jobs = 3;
    s.per_device["sdb1"].failure_nodes["10.0.0.2"]["sdd1"] = 2;
    s.per_device["sdb1"].files_sent = 5;
    s.per_device["sdb1"].bytes_sent = 20480;
    t.PassFinished(s);
  }
  auto doc = ReadProgressFile(path);
  REQUIRE(doc.ok());
  CHECK((*doc)["state"] == "idle");
  CHECK((*doc)["pass"].is_null());
  CHECK((*doc)["last_pass"]["partitions"] == 3);
  CHECK((*doc)["failures_by_peer"]["10.0.0.2"]["sdd1"] == 2);
  PromText prom;
  AddProgressMetrics(*doc, prom);
  std::string text = prom.Render();
  CHECK(text.find("replicant_replicator_partitions_done{device=\"sdb1\",policy=\"1\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("replicant_replicator_peer_failures{peer=\"10.0.0.2\",device=\"sdd1\"} 2\n") !=
        std::string::npos);
  CHECK((*doc)["last_pass"]["per_device"]["sdb1"]["files_sent"] == 5);
  CHECK(text.find("replicant_replicator_last_pass_files_sent{device=\"sdb1\"} 5\n") !=
        std::string::npos);
  CHECK(text.find("replicant_replicator_last_pass_bytes_sent{device=\"sdb1\"} 20480\n") !=
        std::string::npos);
  CHECK(ReadProgressFile((dir / "absent.json").string()).status().code() == Status::Code::kNotFound);
  std::filesystem::remove_all(dir);
}
