// Priority replication jobs: the POST /priorityrep body and job file parser, the queue
// files, and the status view of a priority run.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ops/priority_job.h"
#include "cli/status_view.h"

namespace {

using namespace replicant;
using namespace replicant::ops;
namespace fs = std::filesystem;

std::string Err(std::string_view body, bool stored = false) {
  auto r = ParsePriorityJob(body, stored);
  return r.ok() ? "ok" : r.status().message();
}

struct PrioTempDir {
  std::string path;
  PrioTempDir() {
    std::string tmpl = (fs::temp_directory_path() / "prio-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~PrioTempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("A well-formed priority job parses", "[priority]") {
  auto j = ParsePriorityJob(
      R"({"policy":1,"partition":4294967295,"from_device":"sdb1","to_devices":[3,)"
      R"({"ip":"10.0.0.2","port":6200,"device":"sdc"},)"
      R"({"replication_ip":"::1","replication_port":6300,"ip":"10.0.0.9","port":1,"device":"d"},3]})");
  REQUIRE(j.ok());
  CHECK(j->policy == 1);
  CHECK(j->partition == 4294967295u);
  CHECK(j->from_device == "sdb1");
  REQUIRE(j->to_devices.size() == 3);  // the repeated id once
  CHECK(j->to_devices[0].id == 3);
  CHECK(j->to_devices[1].ToString() == "10.0.0.2:6200/sdc");
  CHECK(j->to_devices[2].ToString() == "::1:6300/d");  // replication_* win
}

TEST_CASE("Malformed priority jobs are refused with a reason", "[priority]") {
  const std::string ok_tail = R"("from_device":"sdb1","to_devices":[1]})";
  CHECK(Err("") == "job body is not valid JSON");
  CHECK(Err("{") == "job body is not valid JSON");
  CHECK(Err("[1]") == "job body must be a JSON object");
  CHECK(Err(R"({"policy":0,"partition":1,"from_device":"sdb1"})") == "to_devices missing");
  CHECK(Err(R"({"policy":0,"partition":1,"x":1,)" + ok_tail) == "unknown key x");
  // Wrong types and ranges.
  CHECK(Err(R"({"policy":"0","partition":1,)" + ok_tail) == "policy must be an integer");
  CHECK(Err(R"({"policy":0.0,"partition":1,)" + ok_tail) == "policy must be an integer");
  CHECK(Err(R"({"policy":true,"partition":1,)" + ok_tail) == "policy must be an integer");
  CHECK(Err(R"({"policy":-1,"partition":1,)" + ok_tail) == "policy out of range [0, 2147483647]");
  CHECK(Err(R"({"policy":0,"partition":4294967296,)" + ok_tail) ==
        "partition out of range [0, 4294967295]");
  CHECK(Err(R"({"policy":0,"partition":18446744073709551615,)" + ok_tail) ==
        "partition out of range [0, 4294967295]");
  CHECK(Err(R"({"policy":0,"partition":1,"from_device":"sdb1","to_devices":[]})") ==
        "to_devices must be a list of 1 to 64 devices");
  CHECK(Err(R"({"policy":0,"partition":1,"from_device":"sdb1","to_devices":"1"})") ==
        "to_devices must be a list of 1 to 64 devices");
  CHECK(Err(R"({"policy":0,"partition":1,"from_device":"sdb1","to_devices":[65536]})") ==
        "to_devices id out of range [0, 65535]");
  CHECK(Err(R"({"policy":0,"partition":1,"from_device":"sdb1","to_devices":["sdb2"]})") ==
        "to_devices entries must be device ids or objects");
  CHECK(Err(R"({"policy":0,"partition":1,"from_device":"sdb1","to_devices":[{"ip":"h;rm","port":1,"device":"d"}]})") ==
        "to_devices: ip must be an IP address string");
  CHECK(Err(R"({"policy":0,"partition":1,"from_device":"sdb1","to_devices":[{"ip":"1.2.3.4","port":0,"device":"d"}]})") ==
        "to_devices: port out of range [1, 65535]");
  CHECK(Err(R"({"policy":0,"partition":1,"from_device":"sdb1","to_devices":[{"ip":"1.2.3.4","port":1}]})") ==
        "to_devices: device missing");
  // Queue-only keys are not accepted on the wire.
  CHECK(Err(R"({"policy":0,"partition":1,"retries":2,)" + ok_tail) == "unknown key retries");
  CHECK(Err(R"({"policy":0,"partition":1,"retries":2,)" + ok_tail, true) == "ok");
  CHECK(Err(R"({"policy":0,"partition":1,"retries":"2",)" + ok_tail, true) ==
        "retries must be an integer");
}

TEST_CASE("Device names that could leave the devices directory are refused", "[priority]") {
  for (const char* bad : {"", ".", "..", "../etc", "a/b", "/sdb1"}) {
    nlohmann::json body = {{"policy", 0}, {"partition", 1}, {"from_device", bad},
                           {"to_devices", {1}}};
    CHECK(Err(body.dump()).rfind("from_device: invalid device name", 0) == 0);
    body["from_device"] = "sdb1";
    body["to_devices"] = {{{"ip", "1.2.3.4"}, {"port", 6200}, {"device", bad}}};
    CHECK(Err(body.dump()).rfind("to_devices device: invalid device name", 0) == 0);
  }
  CHECK_FALSE(SafeDeviceName(std::string("sd\0b", 4)));
  CHECK_FALSE(SafeDeviceName("\xff\xfe"));
  CHECK_FALSE(SafeDeviceName(std::string(256, 'a')));
  CHECK(SafeDeviceName("sdb1"));
  CHECK(SafeDeviceName(std::string(255, 'a')));
}

TEST_CASE("An oversized priority job body is refused", "[priority]") {
  std::string body = R"({"policy":0,"partition":1,"from_device":"sdb1","to_devices":[1],"pad":")" +
                     std::string(kMaxPriorityBody, 'x') + "\"}";
  CHECK(Err(body) == "job body over 65536 bytes");
}

TEST_CASE("Queued priority jobs merge targets, survive a re-read and keep retries",
          "[priority]") {
  PrioTempDir dir;
  fs::create_directories(dir.path + "/sdb1");
  auto a = ParsePriorityJob(R"({"policy":2,"partition":7,"from_device":"sdb1","to_devices":[1]})");
  auto b = ParsePriorityJob(
      R"({"policy":2,"partition":7,"from_device":"sdb1","to_devices":[2,1]})");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(QueuePriorityJob(dir.path, *a, 100).ok());
  REQUIRE(QueuePriorityJob(dir.path, *b, 200).ok());
  auto listed = ListPriorityJobs(dir.path, "sdb1");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  const auto& q = (*listed)[0];
  CHECK(q.path == dir.path + "/sdb1/replicant-priority/2-7.json");
  REQUIRE(q.job.ok());
  CHECK(q.job->to_devices.size() == 2);
  CHECK(q.job->created == 100);  // the first queueing's time stays
  PriorityJob again = *q.job;
  again.retries = 3;
  again.last_error = "a sync failed";
  REQUIRE(StorePriorityJob(dir.path, again).ok());
  listed = ListPriorityJobs(dir.path, "sdb1");
  REQUIRE(listed.ok());
  REQUIRE((*listed)[0].job.ok());
  CHECK((*listed)[0].job->retries == 3);
  CHECK((*listed)[0].job->last_error == "a sync failed");
  // A corrupt file is listed with its error and left alone; no directory, no jobs.
  { std::ofstream(dir.path + "/sdb1/replicant-priority/0-1.json") << "{garbage"; }
  listed = ListPriorityJobs(dir.path, "sdb1");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK_FALSE((*listed)[0].job.ok());
  auto none = ListPriorityJobs(dir.path, "sdc1");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("replicant status shows a priority run's progress and ETA", "[priority]") {
  nlohmann::json doc = {{"updated", 1000.0}, {"state", "running"},
                        {"priority", {{"running", true}, {"start", 900.0}, {"jobs_total", 10},
                                      {"jobs_done", 4}, {"jobs_failed", 1}, {"bytes", 12345},
                                      {"done_all", 4}, {"failed_all", 1}, {"bytes_all", 12345}}}};
  auto st = StatusJson(doc, 1000.0);
  CHECK(st["priority"]["percent"].get<double>() == Approx(50.0));
  CHECK(st["priority"]["eta_seconds"].get<double>() == Approx(100.0));  // 5 left at 20 s each
  std::string text = RenderStatus(st, 100);
  CHECK(text.find("priority jobs (running): 5/10 (50.0%), 4 done, 1 failed, 12345 bytes, ETA "
                  "1m40s") != std::string::npos);
}
