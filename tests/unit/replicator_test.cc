#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <filesystem>
#include <fstream>

#include "replicator/job_pipeline.h"
#include "replicator/local_devices.h"
#include "replicator/partition_survey.h"
#include "replicator/replicator_config.h"
#include "replicator/stats.h"
#include "sync_backends/peer_gate.h"
#include "sync_backends/rsync/rsync_backend.h"

using namespace replicant;
using sync::BuildRsyncArgs;
using sync::InterpolateRsyncModule;
using sync::IsRsyncDaemonDestination;
using sync::RsyncOptions;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/replicant-unit-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

Device Dev(std::string ip, int port, std::string name) {
  Device d;
  d.id = 3;
  d.region = 2;
  d.zone = 5;
  d.ip = ip;
  d.port = port;
  d.replication_ip = ip;
  d.replication_port = port;
  d.device = std::move(name);
  d.meta = "m";
  return d;
}

}  // namespace

TEST_CASE("rsync_module interpolation follows Swift's placeholders", "[replicator]") {
  Device d = Dev("10.0.0.1", 6200, "sdb1");
  CHECK(*InterpolateRsyncModule("{replication_ip}::object", d) == "10.0.0.1::object");
  CHECK(*InterpolateRsyncModule("{ip}::object_{device}_{port}_{region}_{zone}_{meta}", d) ==
        "10.0.0.1::object_sdb1_6200_2_5_m");
  CHECK(*InterpolateRsyncModule("rsync://{replication_ip}:873/object{replication_port}", d) ==
        "rsync://10.0.0.1:873/object6200");
  CHECK(*InterpolateRsyncModule("{{literal}}", d) == "{literal}");
  Device v6 = Dev("fe80::1", 6200, "sdb1");
  CHECK(*InterpolateRsyncModule("{replication_ip}::object", v6) == "[fe80::1]::object");
  auto bad = InterpolateRsyncModule("{nope}::object", d);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("invalid variable"));
  CHECK_FALSE(InterpolateRsyncModule("{replication_ip::object", d).ok());
}

TEST_CASE("rsync arguments are Swift's", "[replicator]") {
  RsyncOptions o;
  o.io_timeout = "17";
  o.bwlimit = "100";
  o.compress = true;
  sync::SyncJob job;
  job.partition = "123";
  job.policy_index = 1;
  job.region = 1;
  Device node = Dev("10.0.0.2", 6200, "sdc1");
  auto args = BuildRsyncArgs(o, node, job, "10.0.0.2::object", {"/srv/node/sdb1/objects-1/123/abc"});
  std::vector<std::string> want = {
      "rsync", "--recursive", "--whole-file", "--human-readable", "--xattrs",
      "--itemize-changes", "--ignore-existing", "--timeout=17", "--contimeout=17",
      "--bwlimit=100",
      "--exclude=.*.[0-9a-zA-Z][0-9a-zA-Z][0-9a-zA-Z][0-9a-zA-Z][0-9a-zA-Z][0-9a-zA-Z]",
      "--compress",  // regions differ (1 vs 2)
      "--sockopts=TCP_NODELAY",  // replicant's rsync_tcp_nodelay, on by default
      "/srv/node/sdb1/objects-1/123/abc", "10.0.0.2::object/sdc1/objects-1/123"};
  CHECK(args == want);
  // rsync_tcp_nodelay = false: exactly Swift's list.
  o.tcp_nodelay = false;
  want.erase(std::find(want.begin(), want.end(), "--sockopts=TCP_NODELAY"));
  CHECK(BuildRsyncArgs(o, node, job, "10.0.0.2::object", {"/srv/node/sdb1/objects-1/123/abc"}) ==
        want);
  o.tcp_nodelay = true;
  node.region = 1;
  auto same_region = BuildRsyncArgs(o, node, job, "m", {});
  CHECK(std::find(same_region.begin(), same_region.end(), "--compress") == same_region.end());
  // Not a daemon destination (a local path): no socket, no socket option.
  CHECK(std::find(same_region.begin(), same_region.end(), "--sockopts=TCP_NODELAY") ==
        same_region.end());
}

TEST_CASE("rsync daemon destinations are told apart from remote-shell ones", "[replicator]") {
  CHECK(IsRsyncDaemonDestination("10.0.0.2::object"));
  CHECK(IsRsyncDaemonDestination("host::object6200/sdb1"));
  CHECK(IsRsyncDaemonDestination("[fe80::1]::object"));
  CHECK(IsRsyncDaemonDestination("rsync://127.0.0.1:8730/object"));
  CHECK(IsRsyncDaemonDestination("rsync://[::1]/object"));
  CHECK_FALSE(IsRsyncDaemonDestination("10.0.0.2:/srv/node"));   // remote shell
  CHECK_FALSE(IsRsyncDaemonDestination("[fe80::1]:/srv/node"));  // remote shell, IPv6
  CHECK_FALSE(IsRsyncDaemonDestination("/srv/node"));            // local
  CHECK_FALSE(IsRsyncDaemonDestination("[fe80::1"));
}

TEST_CASE("a missing rsync binary is a clear error", "[replicator]") {
  RsyncOptions o;
  o.rsync_binary = "/nonexistent/rsync";
  auto b = sync::RsyncBackend::Create(o);
  REQUIRE_FALSE(b.ok());
  CHECK_THAT(b.status().message(), Catch::Contains("rsync binary"));
}

TEST_CASE("local devices match ip and replication port", "[replicator]") {
  CHECK(CanonicalIp("::0001") == "::1");
  CHECK(CanonicalIp("127.0.0.1") == "127.0.0.1");
  CHECK(WhatAreMyIps("10.1.2.3") == std::vector<std::string>{"10.1.2.3"});
  auto all = WhatAreMyIps("0.0.0.0");
  CHECK(std::find(all.begin(), all.end(), "127.0.0.1") != all.end());
  Device d = Dev("127.0.0.1", 6200, "sdb1");
  CHECK(IsLocalDevice({"127.0.0.1"}, 6200, d));
  CHECK_FALSE(IsLocalDevice({"127.0.0.1"}, 6210, d));
  CHECK(IsLocalDevice({"127.0.0.1"}, std::nullopt, d));  // servers_per_port
  CHECK_FALSE(IsLocalDevice({"10.0.0.9"}, 6200, d));
  Device v6 = Dev("0:0:0:0:0:0:0:1", 6200, "sdb1");
  CHECK(IsLocalDevice({"::1"}, 6200, v6));
}

TEST_CASE("replicator config: Swift defaults and options", "[replicator]") {
  TempDir t;
  auto path = t.Write("object-server.conf",
                      "[DEFAULT]\ndevices = /d\nmount_check = false\nbind_port = 6210\n"
                      "reclaim_age = 3600\n\n[object-replicator]\nconcurrency = 4\n"
                      "rsync_module = {replication_ip}::object_{device}/\nhandoffs_first = yes\n"
                      "handoff_delete = 2\nrun_pause = 7\n");
  auto c = LoadReplicatorConfig(path);
  REQUIRE(c.ok());
  CHECK(c->devices == "/d");
  CHECK_FALSE(c->mount_check);
  CHECK(c->bind_port == 6210);
  CHECK(c->reclaim_age == 3600);
  CHECK(c->concurrency == 4);
  CHECK(c->rsync_module == "{replication_ip}::object_{device}");  // trailing / stripped
  CHECK(c->handoffs_first);
  CHECK(c->handoff_delete == 2);
  CHECK(c->interval == 7);  // deprecated run_pause still honoured
  CHECK(c->sync_method == "rsync");
  CHECK(c->ring_ip == "0.0.0.0");
  CHECK(c->rsync_tcp_nodelay);  // replicant's addition defaults on
  CHECK(c->stop_timeout == 30);
  CHECK(c->pipeline_depth == 4);
  CHECK(c->native_sessions_per_device == 1);  // as Swift's receivers allow
  auto off = t.Write("off.conf", "[object-replicator]\nrsync_tcp_nodelay = false\n");
  auto o = LoadReplicatorConfig(off);
  REQUIRE(o.ok());
  CHECK_FALSE(o->rsync_tcp_nodelay);
  CHECK(c->bytes_per_second == 0);  // unlimited
  CHECK(c->files_per_second == 0);
  auto th = t.Write("th.conf", "[object-replicator]\nbytes_per_second = 1048576\n"
                               "files_per_second = 2.5\n");
  auto h = LoadReplicatorConfig(th);
  REQUIRE(h.ok());
  CHECK(h->bytes_per_second == 1048576);
  CHECK(h->files_per_second == 2.5);
  CHECK(h->warnings.empty());  // registered as used
}

TEST_CASE("replicator config errors name the option", "[replicator]") {
  TempDir t;
  auto bad_method = t.Write("a.conf", "[object-replicator]\nsync_method = ftp\n");
  auto r = LoadReplicatorConfig(bad_method);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("sync_method"));
  auto bad_int = t.Write("b.conf", "[object-replicator]\nconcurrency = lots\n");
  r = LoadReplicatorConfig(bad_int);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("concurrency"));
  auto zero = t.Write("c.conf", "[object-replicator]\nconcurrency = 0\n");
  r = LoadReplicatorConfig(zero);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("concurrency"));
  auto bad_hd = t.Write("d.conf", "[object-replicator]\nhandoff_delete = some\n");
  r = LoadReplicatorConfig(bad_hd);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("handoff_delete"));
  auto neg_stop = t.Write("f.conf", "[object-replicator]\nstop_timeout = -1\n");
  r = LoadReplicatorConfig(neg_stop);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("stop_timeout"));
  auto no_depth = t.Write("g.conf", "[object-replicator]\npipeline_depth = 0\n");
  r = LoadReplicatorConfig(no_depth);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("pipeline_depth: must be greater than 0"));
  r = LoadReplicatorConfig(t.Write("g2.conf", "[object-replicator]\nnative_sessions_per_device = 0\n"));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(),
             Catch::Contains("native_sessions_per_device: must be greater than 0"));
  r = LoadReplicatorConfig(t.Write("g3.conf", "[object-replicator]\nnative_sessions_per_device = 3\n"));
  REQUIRE(r.ok());
  CHECK(r->native_sessions_per_device == 3);
  for (std::string opt : {"bytes_per_second", "files_per_second"}) {
    r = LoadReplicatorConfig(t.Write("h.conf", "[object-replicator]\n" + opt + " = -1\n"));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains(opt + ": must not be negative"));
    r = LoadReplicatorConfig(t.Write("h.conf", "[object-replicator]\n" + opt + " = fast\n"));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains(opt));
  }
  auto no_section = t.Write("e.conf", "[DEFAULT]\ndevices = /d\n");
  CHECK_FALSE(LoadReplicatorConfig(no_section).ok());
  CHECK_FALSE(LoadReplicatorConfig((t.path / "missing.conf").string()).ok());
}

TEST_CASE("override lists parse like Swift's", "[replicator]") {
  CHECK(*ParseIntList("--partitions", "1, 2,3") == std::set<int>{1, 2, 3});
  CHECK_FALSE(ParseIntList("--partitions", "1,x").ok());
  CHECK_FALSE(ParseIntList("--policies", "-1").ok());
  CHECK(ParseNameList("sdb1,sdc1") == std::set<std::string>{"sdb1", "sdc1"});
}

TEST_CASE("recon cache merges like Swift's dump_recon_cache", "[replicator]") {
  TempDir t;
  std::string path = (t.path / "object.recon").string();
  t.Write("object.recon", R"({"object_auditor_stats_ALL": {"a": 1}, "nested": {"x": 1, "y": 2}})"
                          "\n");
  REQUIRE(DumpReconCache({{"replication_time", 1.5}, {"nested", {{"y", nlohmann::json::object()}, {"z", 3}}}},
                         path)
              .ok());
  std::ifstream in(path);
  auto j = nlohmann::json::parse(in);
  CHECK(j["object_auditor_stats_ALL"]["a"] == 1);
  CHECK(j["replication_time"] == 1.5);
  CHECK(j["nested"] == nlohmann::json({{"x", 1}, {"z", 3}}));
  REQUIRE(DumpReconCache({{"nested", nlohmann::json::object()}}, path).ok());
  std::ifstream in2(path);
  CHECK_FALSE(nlohmann::json::parse(in2).contains("nested"));
}

TEST_CASE("recon cache dumps racing each other lose no update", "[replicator]") {
  // Each dump renames a new file over the locked one: a writer that waited on the old
  // inode's lock must not merge into the stale content (workers and the parent do this).
  TempDir t;
  std::string path = (t.path / "object.recon").string();
  constexpr int kThreads = 6, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        std::string dev = "d" + std::to_string(i) + "-" + std::to_string(j);
        if (!DumpReconCache({{"object_replication_per_disk", {{dev, {{"lockups", j}}}}}}, path)
                 .ok()) {
          ++failed;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failed == 0);
  std::ifstream in(path);
  CHECK(nlohmann::json::parse(in)["object_replication_per_disk"].size() == kThreads * kEach);
}

TEST_CASE("stats add up per device and failure node", "[replicator]") {
  StatsBook book;
  book.Update("sdb1", [](ReplicationStats& s) {
    s.attempted = 2;
    s.AddFailures({{"10.0.0.1", "sdc"}, {"10.0.0.2", "sdd"}});
  });
  book.Update("sdc1", [](ReplicationStats& s) {
    s.attempted = 1;
    s.AddFailures({{"10.0.0.1", "sdc"}});
  });
  auto t = book.Total();
  CHECK(t.attempted == 3);
  CHECK(t.failure == 3);
  CHECK(t.failure_nodes["10.0.0.1"]["sdc"] == 2);
  CHECK(t.ToRecon()["failure_nodes"]["10.0.0.2"]["sdd"] == 1);
}

TEST_CASE("a PeerGate holds a device for one holder at a time", "[replicator]") {
  sync::PeerGate gate;
  std::atomic<int> inside{0}, most{0}, disjoint_ran{0};
  auto first = std::make_unique<sync::PeerGate::Hold>(gate.Acquire({"a/sdb1", "b/sdb1"}));
  // Disjoint devices do not wait.
  { auto other = gate.Acquire({"c/sdb1"}); disjoint_ran++; }
  CHECK(disjoint_ran == 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      // Overlapping sets, in different orders: taken all at once, so no deadlock.
      auto h = gate.Acquire(i % 2 ? std::vector<std::string>{"b/sdb1", "c/sdb1"}
                                  : std::vector<std::string>{"c/sdb1", "a/sdb1", "a/sdb1"});
      int now = ++inside;
      int seen = most;
      while (now > seen && !most.compare_exchange_weak(seen, now)) {}
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --inside;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK(inside == 0);  // all wait for the first holder
  first.reset();
  for (auto& t : threads) t.join();
  CHECK(most == 1);  // every pair shares c/sdb1 or a/sdb1 with the others
}

TEST_CASE("a PeerGate of N slots lets N holders share a device, never N + 1", "[replicator]") {
  sync::PeerGate gate(2);
  std::atomic<int> inside{0}, most{0};
  auto a = std::make_unique<sync::PeerGate::Hold>(gate.Acquire({"a/sdb1"}));
  auto b = std::make_unique<sync::PeerGate::Hold>(gate.Acquire({"a/sdb1", "b/sdb1"}));
  std::atomic<bool> third_in{false};
  std::thread third([&] {
    auto h = gate.Acquire({"a/sdb1"});
    third_in = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK_FALSE(third_in);  // both of a/sdb1's slots are held
  { auto other = gate.Acquire({"b/sdb1"}); }  // b/sdb1 has a slot left
  b.reset();
  third.join();
  CHECK(third_in);
  a.reset();
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto h = gate.Acquire({"c/sdb1"});
      int now = ++inside;
      int seen = most;
      while (now > seen && !most.compare_exchange_weak(seen, now)) {}
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      --inside;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(most <= 2);  // (a and b above showed that 2 do share)
}

TEST_CASE("a StagePipeline runs up to depth stages beside its worker", "[replicator]") {
  std::vector<int> order;
  {
    StagePipeline inline_stages(1);
    inline_stages.Submit([&] { order.push_back(1); });
    CHECK(order == std::vector<int>{1});  // depth 1: before Submit returns
  }
  std::atomic<bool> release{false};
  std::atomic<int> running{0}, most{0}, done{0};
  auto stage = [&] {
    int now = ++running;
    int seen = most;
    while (now > seen && !most.compare_exchange_weak(seen, now)) {}
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    --running;
    ++done;
  };
  StagePipeline stages(2);
  stages.Submit(stage);
  stages.Submit(stage);  // both run while the worker goes on
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(running == 2);
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    release = true;
  });
  stages.Submit(stage);  // a third waits for the oldest
  CHECK(done >= 1);
  releaser.join();
  stages.Drain();
  CHECK(done == 3);
  CHECK(most == 2);
}

TEST_CASE("a survey window narrows after partitions with many suffixes", "[replicator]") {
  auto survey_of = [](size_t local, size_t peer) {
    Survey s;
    hashes::GetHashesResult r;
    for (size_t i = 0; i < local; ++i) r.hashes[std::to_string(i)] = "h";
    s.local = std::move(r);
    for (int p = 0; p < 2; ++p) {
      ReplicateResponse a;
      for (size_t i = 0; i < peer; ++i) a.hashes[std::to_string(i)] = "h";
      s.answers.emplace_back(std::move(a));
    }
    s.answers.emplace_back(Status::Unavailable("peer down"));  // holds nothing
    return s;
  };
  CHECK(NextSurveyWindow(64, {}) == 64);
  // Small partitions (a big part power): the full window.
  std::vector<Survey> small;
  for (int i = 0; i < 64; ++i) small.push_back(survey_of(4, 4));
  CHECK(NextSurveyWindow(64, small) == 64);
  // ~1,000 suffixes each, three sides: the budget holds 16 such partitions.
  std::vector<Survey> big;
  for (int i = 0; i < 4; ++i) big.push_back(survey_of(1024, 1024));
  CHECK(NextSurveyWindow(64, big) == kSurveySuffixBudget / 3072);
  CHECK(NextSurveyWindow(8, big) == 8);
  // Whatever their size, at least one job per window.
  std::vector<Survey> huge{survey_of(kSurveySuffixBudget, kSurveySuffixBudget)};
  CHECK(NextSurveyWindow(64, huge) == 1);
}
