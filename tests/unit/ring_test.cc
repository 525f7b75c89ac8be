// Ring reader, hash_path and handoff order. Expected values were computed once with
// Debian's Swift 2.30 (swift.common.utils.hash_path, swift.common.ring.Ring) and are
// embedded here; the differential tests in tests/integration cover random rings.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <bit>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "ring/hash_path.h"
#include "ring/ring.h"
#include "replicator/job_collector.h"
#include "ring/ring_watcher.h"

using nlohmann::json;
using replicant::Device;
using replicant::HandoffIterator;
using replicant::Ring;
using replicant::RingWatcher;

namespace {

using Rows = std::vector<std::vector<uint16_t>>;

std::string Gzip(const std::string& raw) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, raw.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Be(uint32_t v, int bytes) {
  std::string s;
  for (int i = bytes - 1; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// The uncompressed payload of a v1 ring file; `order` is "little", "big" or "" (absent,
// written in native order).
std::string Payload(json hdr, const Rows& rows, const std::string& order = "little") {
  hdr["replica_count"] = rows.size();
  if (!order.empty()) hdr["byteorder"] = order;
  bool big = order.empty() ? std::endian::native == std::endian::big : order == "big";
  std::string text = hdr.dump();
  std::string out = "R1NG" + Be(1, 2) + Be(static_cast<uint32_t>(text.size()), 4) + text;
  for (const auto& row : rows)
    for (uint16_t v : row) {
      char lo = static_cast<char>(v & 0xff), hi = static_cast<char>(v >> 8);
      out += big ? std::string{hi, lo} : std::string{lo, hi};
    }
  return out;
}

json Dev(int id, int region, int zone, const std::string& ip, int port, const std::string& name) {
  return {{"id", id},     {"region", region}, {"zone", zone},   {"ip", ip},
          {"port", port}, {"device", name},   {"weight", 100.0}, {"meta", ""}};
}

// The hand-made ring whose Swift answers are embedded below: part power 4, 2.5
// replicas, a hole (3), a device without region (4, weight 0), one with replication
// ip/port (5), one only in partition 0 (8) and one holding nothing (9).
json SmallHeader() {
  json devs = json::array({Dev(0, 1, 1, "10.0.0.1", 6200, "sda"), Dev(1, 1, 1, "10.0.0.1", 6201, "sdb"),
                           Dev(2, 1, 2, "10.0.0.2", 6200, "sdc"), nullptr,
                           Dev(4, 1, 2, "10.0.0.3", 6200, "sde"), Dev(5, 2, 1, "10.0.1.1", 6200, "sdf"),
                           Dev(6, 2, 1, "10.0.1.2", 6200, "sdg"), Dev(7, 2, 3, "10.0.1.3", 6200, "sdh"),
                           Dev(8, 3, 1, "10.0.2.1", 6200, "sdi"), Dev(9, 4, 1, "10.0.3.1", 6200, "sdj")});
  devs[4].erase("region");
  devs[4]["weight"] = 0.0;
  devs[4]["meta"] = "m";
  devs[5]["replication_ip"] = "10.1.1.1";
  devs[5]["replication_port"] = 6300;
  return {{"devs", devs}, {"part_shift", 28}, {"version", 5}};
}

const Rows kSmallRows = {{8, 1, 4, 6, 0, 0, 7, 5, 0, 2, 5, 0, 5, 1, 0, 0},
                         {4, 4, 0, 1, 0, 5, 4, 0, 7, 5, 0, 1, 6, 6, 5, 0},
                         {5, 5, 4, 0, 1, 0, 5, 7}};

// Swift's get_part_nodes / get_more_nodes ids for partitions 0..15 of the small ring.
const std::vector<std::pair<std::vector<int>, std::vector<int>>> kSmallExpected = {
    {{8, 4, 5}, {1, 7, 6, 2, 0}}, {{1, 4, 5}, {7, 6, 2, 0}},     {{4, 0}, {5, 7, 6, 2, 1}},
    {{6, 1, 0}, {4, 7, 5, 2}},    {{0, 1}, {5, 4, 7, 6, 2}},     {{0, 5}, {4, 7, 6, 2, 1}},
    {{7, 4, 5}, {1, 6, 2, 0}},    {{5, 0, 7}, {2, 6, 4, 1}},     {{0, 7}, {5, 4, 6, 2, 1}},
    {{2, 5}, {0, 7, 4, 6, 1}},    {{5, 0}, {4, 7, 6, 2, 1}},     {{0, 1}, {7, 4, 5, 2, 6}},
    {{5, 6}, {1, 4, 7, 2, 0}},    {{1, 6}, {4, 7, 5, 2, 0}},     {{0, 5}, {4, 7, 6, 2, 1}},
    {{0}, {5, 2, 7, 6, 4, 1}}};

std::vector<int> Ids(const std::vector<const Device*>& devs) {
  std::vector<int> ids;
  for (const Device* d : devs) ids.push_back(d->id);
  return ids;
}

std::shared_ptr<const Ring> MustParse(const std::string& payload) {
  auto r = Ring::FromGzip(Gzip(payload), "test.ring.gz");
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

replicant::Status ParseError(const std::string& payload) {
  auto r = Ring::FromGzip(Gzip(payload), "bad.ring.gz");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsCorruption());
  CHECK(r.status().message().find("bad.ring.gz") != std::string::npos);
  return r.status();
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ring_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string Write(const std::string& name, const std::string& bytes) const {
    std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
};

}  // namespace

TEST_CASE("hash_path matches Swift's known vectors", "[ring]") {
  using replicant::HashPathHex;
  CHECK(HashPathHex("", "", "a") == "0639767f3e9eaad729b54037a7e2abf5");
  CHECK(HashPathHex("", "suf", "a", "c", "o") == "680968c764bc23f1da2b79c812fe92d2");
  CHECK(HashPathHex("pre", "", "a", "c", "o") == "df11ab5dd2a42d41534f55d0abab20c3");
  CHECK(HashPathHex("pre", "suf", "AUTH_test", "cont", "obj/with/slashes") ==
        "16ce0ae949b982e0adc9e770a42ceab5");
  CHECK(HashPathHex("pre", "suf", "AUTH_test", "cont") == "1e011b455bc328637ea2da744c77ade5");
  // UTF-8 bytes as given, no normalisation ("e" + U+0301 is not "é").
  CHECK(HashPathHex("replicant-test-prefix", "replicant-test-suffix", "AUTH_\xc3\xa9",
                    "c\xc3\xa9", "e\xcc\x81") == "71ace5c49d84d1d7510fba9b56638a9a");
  CHECK(HashPathHex("\xc3\xa9", "\xff", "a", "c", "o") == "f5fc1c98ba4be2f33ac1ca442f435be4");
  CHECK(replicant::HashPathDigest("p", "s", "a", "c", "o").size() == 16);
}

TEST_CASE("PartFromDigest takes the top bits big-endian", "[ring]") {
  using replicant::HashPathDigest;
  using replicant::Md5Digest;
  using replicant::PartFromDigest;
  CHECK(PartFromDigest(HashPathDigest("", "", "a"), 22) == 24);
  CHECK(PartFromDigest(HashPathDigest("", "suf", "a", "c", "o"), 22) == 416);
  CHECK(PartFromDigest(HashPathDigest("pre", "suf", "AUTH_test", "cont", "obj/with/slashes"), 22) == 91);
  CHECK(PartFromDigest(HashPathDigest("\xc3\xa9", "\xff", "a", "c", "o"), 22) == 983);
  // The handoff scan start of get_more_nodes: md5(str(part)), part power 17.
  CHECK(PartFromDigest(Md5Digest("0"), 15) == 106394);
  CHECK(PartFromDigest(Md5Digest("1"), 15) == 100756);
  CHECK(PartFromDigest(Md5Digest("12345"), 15) == 66809);
  CHECK(PartFromDigest(std::string("\xff\xff\xff\xff", 4), 32) == 0);
  CHECK(PartFromDigest(std::string("\x80\x00\x00\x01", 4), 0) == 0x80000001u);
}

TEST_CASE("small ring: metadata, devices and defaults", "[ring]") {
  auto ring = MustParse(Payload(SmallHeader(), kSmallRows));
  CHECK(ring->part_power() == 4);
  CHECK(ring->part_shift() == 28);
  CHECK(ring->partition_count() == 16);
  CHECK(ring->replica_count() == 2.5);
  CHECK(ring->row_count() == 3);
  CHECK(ring->version() == 5);
  CHECK_FALSE(ring->next_part_power().has_value());
  CHECK(ring->assigned_device_count() == 8);  // 3 is a hole, 9 holds nothing
  const auto& devs = ring->devices();
  REQUIRE(devs.size() == 10);
  CHECK_FALSE(devs[3].has_value());
  CHECK(ring->device(3) == nullptr);
  CHECK(ring->device(10) == nullptr);
  CHECK(devs[4]->region == 1);  // setdefault('region', 1)
  CHECK(devs[4]->weight == 0.0);
  CHECK(devs[4]->meta == "m");
  CHECK(devs[4]->replication_ip == "10.0.0.3");
  CHECK(devs[4]->replication_port == 6200);
  CHECK(devs[5]->replication_ip == "10.1.1.1");
  CHECK(devs[5]->replication_port == 6300);
  CHECK(devs[1]->port == 6201);
  CHECK(devs[9]->device == "sdj");
  CHECK(ring->DeviceIdAt(2, 7) == 7);
  CHECK_FALSE(ring->DeviceIdAt(2, 8).has_value());
  CHECK_FALSE(ring->DeviceIdAt(3, 0).has_value());
}

TEST_CASE("small ring: primaries and handoffs match Swift", "[ring]") {
  auto ring = MustParse(Payload(SmallHeader(), kSmallRows));
  for (uint32_t p = 0; p < 16; ++p) {
    INFO("partition " << p);
    CHECK(Ids(ring->GetPartNodes(p)) == kSmallExpected[p].first);
    CHECK(Ids(ring->GetMoreNodes(p)) == kSmallExpected[p].second);
    // Any limit gives a prefix; the lazy iterator gives the same order.
    auto two = Ids(ring->GetMoreNodes(p, 2));
    CHECK(two == std::vector<int>(kSmallExpected[p].second.begin(),
                                  kSmallExpected[p].second.begin() + 2));
    HandoffIterator it(*ring, p);
    std::vector<int> lazy;
    while (const Device* d = it.Next()) lazy.push_back(d->id);
    CHECK(lazy == kSmallExpected[p].second);
    CHECK(it.Next() == nullptr);
  }
  CHECK(ring->GetMoreNodes(3, 0).empty());
  // Outside the ring: no primaries (as Swift), handoffs still well defined.
  CHECK(ring->GetPartNodes(16).empty());
  CHECK(ring->GetPart("a", "c", "o", "p", "s") == 9);
  CHECK(ring->GetPart("AUTH_x", "c2", "o/x", "p", "s") == 3);
  auto [part, nodes] = ring->GetNodes("a", "c", "o", "p", "s");
  CHECK(part == 9);
  CHECK(Ids(nodes) == kSmallExpected[9].first);
}

TEST_CASE("byte order: little, big and absent read the same ring", "[ring]") {
  auto little = MustParse(Payload(SmallHeader(), kSmallRows, "little"));
  auto big = MustParse(Payload(SmallHeader(), kSmallRows, "big"));
  auto native = MustParse(Payload(SmallHeader(), kSmallRows, ""));
  for (uint32_t p = 0; p < 16; ++p) {
    CHECK(Ids(big->GetPartNodes(p)) == Ids(little->GetPartNodes(p)));
    CHECK(Ids(native->GetPartNodes(p)) == Ids(little->GetPartNodes(p)));
  }
  // Ids above 255 catch a missing byte swap.
  json hdr = {{"part_shift", 31}, {"devs", json::array()}};
  for (int i = 0; i < 300; ++i) hdr["devs"].push_back(Dev(i, 1, i, "10.0.0.1", 6000 + i, "d"));
  for (const char* order : {"little", "big", ""}) {
    auto ring = MustParse(Payload(hdr, {{258, 1}}, order));
    CHECK(Ids(ring->GetPartNodes(0)) == std::vector<int>{258});
    CHECK(Ids(ring->GetPartNodes(1)) == std::vector<int>{1});
  }
}

TEST_CASE("fractional replicas: short and empty last rows, duplicate devices", "[ring]") {
  json hdr = {{"part_shift", 30},
              {"devs", json::array({Dev(0, 1, 1, "a", 1, "d0"), Dev(1, 1, 2, "b", 1, "d1"),
                                    Dev(2, 1, 3, "c", 1, "d2")})}};
  auto r = MustParse(Payload(hdr, {{0, 1, 2, 0}, {1, 2, 0, 0}, {2}}));
  CHECK(r->replica_count() == 2.25);
  CHECK(Ids(r->GetPartNodes(0)) == std::vector<int>{0, 1, 2});
  CHECK(Ids(r->GetPartNodes(1)) == std::vector<int>{1, 2});
  // A device holding two replicas of a partition is listed once.
  CHECK(Ids(r->GetPartNodes(3)) == std::vector<int>{0});
  // int(parts * 0.01) == 0: the builder writes an empty last row.
  auto empty = MustParse(Payload(hdr, {{0, 1, 2, 0}, {}}));
  CHECK(empty->replica_count() == 1.0);
  CHECK(empty->row_count() == 2);
  CHECK(Ids(empty->GetPartNodes(2)) == std::vector<int>{2});
  // Replicas >= devices: nothing left for handoffs.
  auto full = MustParse(Payload(hdr, {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}}));
  CHECK(full->GetMoreNodes(1).empty());
}

TEST_CASE("handoff scan quirks: partition 0 and inc > 1", "[ring]") {
  // Device 8 of the small ring is only in partition 0, which the scan never visits
  // unless it starts there.
  auto small = MustParse(Payload(SmallHeader(), kSmallRows));
  for (uint32_t p = 1; p < 16; ++p) {
    auto ids = Ids(small->GetMoreNodes(p));
    CHECK(std::count(ids.begin(), ids.end(), 8) == 0);
    CHECK(std::count(ids.begin(), ids.end(), 9) == 0);
  }
  // Part power 17 (inc = 2): device 3 only in odd partitions is a handoff only for
  // partitions whose scan start is odd.
  const uint32_t parts = 1 << 17;
  json hdr = {{"part_shift", 15}, {"devs", json::array()}};
  for (int i = 0; i < 4; ++i) hdr["devs"].push_back(Dev(i, 1, i, "10.0.0." + std::to_string(i), 6200, "d"));
  Rows rows(1, std::vector<uint16_t>(parts));
  for (uint32_t p = 0; p < parts; ++p) rows[0][p] = static_cast<uint16_t>(p % 3);
  rows[0][12345] = 3;
  auto ring = MustParse(Payload(hdr, rows));
  for (uint32_t p : {0u, 1u, 2u, 7u, 100u, 12345u, 99999u, parts - 1}) {
    uint32_t start = replicant::PartFromDigest(replicant::Md5Digest(std::to_string(p)), 15);
    auto ids = Ids(ring->GetMoreNodes(p));
    bool has3 = std::count(ids.begin(), ids.end(), 3) > 0;
    INFO("partition " << p << " start " << start);
    CHECK(has3 == (start % 2 == 1 && p != 12345));
  }
}

TEST_CASE("corrupt ring headers are Corruption naming the file", "[ring]") {
  json good = SmallHeader();
  CHECK(ParseError("R2NG" + Payload(good, kSmallRows).substr(4)).message().find("magic") !=
        std::string::npos);
  CHECK(ParseError("R1NG" + Be(2, 2)).message().find("version 2") != std::string::npos);
  ParseError("R1NG" + Be(1, 2) + Be(5, 4) + "{\"a\":");
  ParseError("R1NG" + Be(1, 2) + Be(2, 4) + "[]");
  ParseError("R1NG" + Be(1, 2) + Be(100, 4) + "{}");
  ParseError("R1NG");
  ParseError("");

  auto with = [&](auto mutate, Rows rows = kSmallRows, std::string order = "little") {
    json h = SmallHeader();
    mutate(h);
    return ParseError(Payload(h, rows, order));
  };
  with([](json& h) { h.erase("part_shift"); });
  with([](json& h) { h["part_shift"] = "28"; });
  with([](json& h) { h["part_shift"] = 28.5; });
  with([](json& h) { h["part_shift"] = 33; });
  with([](json& h) { h["part_shift"] = 0; });
  with([](json& h) { h["devs"] = json::object(); });
  with([](json& h) { h.erase("devs"); });
  with([](json& h) { h["devs"][0].erase("zone"); });
  with([](json& h) { h["devs"][0].erase("ip"); });
  with([](json& h) { h["devs"][0]["ip"] = 1; });
  with([](json& h) { h["devs"][0].erase("device"); });
  with([](json& h) { h["devs"][0]["port"] = "6200"; });
  with([](json& h) { h["devs"][0]["weight"] = "x"; });
  with([](json& h) { h["devs"][0]["id"] = 7; });
  with([](json& h) { h["devs"][0]["region"] = nullptr; });
  with([](json& h) { h["devs"][0] = 5; });
  with([](json& h) { h["byteorder"] = "middle"; }, kSmallRows, "");
  CHECK(with([](json&) {}, Rows{}).ok() == false);  // replica_count 0
  // Rows naming an id beyond devs, or a hole.
  Rows bad = kSmallRows;
  bad[1][3] = 10;
  CHECK(with([](json&) {}, bad).message().find("out of range") != std::string::npos);
  bad[1][3] = 3;
  CHECK(with([](json&) {}, bad).message().find("removed") != std::string::npos);
}

TEST_CASE("truncated rows and gzip data never load silently", "[ring]") {
  const std::string payload = Payload(SmallHeader(), kSmallRows);
  const size_t rows_at = payload.size() - 2 * (16 + 16 + 8);
  const size_t last_row_at = payload.size() - 2 * 8;
  // Cut the uncompressed payload anywhere: only an even cut inside the last row is a
  // valid (shorter) ring, as it would be for Swift.
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    auto r = Ring::FromGzip(Gzip(payload.substr(0, cut)), "cut.ring.gz");
    INFO("cut at " << cut << " (rows at " << rows_at << ")");
    if (cut >= last_row_at && (cut - last_row_at) % 2 == 0) {
      REQUIRE(r.ok());
      CHECK((*r)->replica_count() == 2 + (cut - last_row_at) / 2 / 16.0);
    } else {
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().IsCorruption());
      CHECK(r.status().message().find("cut.ring.gz") != std::string::npos);
    }
  }
  // Cut the compressed file anywhere: always an error (truncated gzip), no crash.
  const std::string gz = Gzip(payload);
  for (size_t cut = 0; cut < gz.size(); ++cut) {
    auto r = Ring::FromGzip(gz.substr(0, cut), "gz.ring.gz");
    INFO("gzip cut at " << cut);
    CHECK_FALSE(r.ok());
  }
  // Flipped bytes: error or a ring, never a crash.
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    std::string g = gz;
    g[rng() % g.size()] ^= static_cast<char>(1 + rng() % 255);
    (void)Ring::FromGzip(g, "flip.ring.gz");
    std::string p = payload;
    p[rng() % p.size()] ^= static_cast<char>(1 + rng() % 255);
    auto r = Ring::FromGzip(Gzip(p), "flip.ring.gz");
    if (r.ok()) (void)(*r)->GetMoreNodes(rng() % 16);
  }
  // Trailing bytes after the gzip stream are ignored, as Swift's reader does.
  CHECK(Ring::FromGzip(gz + "junk", "t.ring.gz").ok());
  CHECK(ParseError(payload.substr(0, rows_at) + std::string(31, '\0')).ok() == false);
}

TEST_CASE("Load reads files and names them in errors", "[ring]") {
  TempDir dir;
  std::string good = dir.Write("object.ring.gz", Gzip(Payload(SmallHeader(), kSmallRows)));
  auto r = Ring::Load(good);
  REQUIRE(r.ok());
  CHECK(Ids((*r)->GetPartNodes(0)) == kSmallExpected[0].first);

  auto missing = Ring::Load(dir.path + "/nope.ring.gz");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().IsNotFound());
  CHECK(missing.status().message().find("nope.ring.gz") != std::string::npos);

  auto junk = Ring::Load(dir.Write("junk.ring.gz", "not gzip at all"));
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.status().IsCorruption());
  CHECK(junk.status().message().find("junk.ring.gz") != std::string::npos);

  auto dirload = Ring::Load(dir.path);
  CHECK_FALSE(dirload.ok());
}

TEST_CASE("RingWatcher reloads on mtime change and keeps the old ring on errors", "[ring]") {
  TempDir dir;
  auto set_mtime = [](const std::string& p, long sec) {
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    REQUIRE(utimensat(AT_FDCWD, p.c_str(), ts, 0) == 0);
  };
  std::string path = dir.Write("object.ring.gz", Gzip(Payload(SmallHeader(), kSmallRows)));
  set_mtime(path, 1000);
  REQUIRE_FALSE(RingWatcher::Open(dir.path + "/missing").ok());
  auto w = RingWatcher::Open(path);
  REQUIRE(w.ok());
  RingWatcher& watcher = **w;
  auto first = watcher.ring();
  CHECK(watcher.ReloadIfChanged().value() == false);
  CHECK(watcher.HasChangedOnDisk().value() == false);
  CHECK(watcher.ring() == first);

  // New assignment, same devices: reloaded, device set unchanged.
  Rows rows = kSmallRows;
  std::swap(rows[0], rows[1]);
  dir.Write("object.ring.gz", Gzip(Payload(SmallHeader(), rows)));
  set_mtime(path, 2000);
  CHECK(watcher.HasChangedOnDisk().value() == true);
  auto res = watcher.ReloadIfChanged();
  REQUIRE(res.ok());
  CHECK(*res == false);
  CHECK(watcher.generation() == 1);
  CHECK(watcher.ring() != first);
  CHECK(Ids(watcher.ring()->GetPartNodes(0)) == std::vector<int>{4, 8, 5});
  CHECK(Ids(first->GetPartNodes(0)) == kSmallExpected[0].first);  // old one still usable

  // Corrupt file: error, old ring kept, retried next time.
  auto before = watcher.ring();
  dir.Write("object.ring.gz", "garbage");
  set_mtime(path, 3000);
  CHECK_FALSE(watcher.ReloadIfChanged().ok());
  CHECK(watcher.ring() == before);
  CHECK_FALSE(watcher.ReloadIfChanged().ok());

  // A changed device (port): reported.
  json hdr = SmallHeader();
  hdr["devs"][2]["port"] = 6202;
  dir.Write("object.ring.gz", Gzip(Payload(hdr, kSmallRows)));
  set_mtime(path, 4000);
  CHECK(watcher.ReloadIfChanged().value() == true);
  CHECK(watcher.ring()->device(2)->port == 6202);
  CHECK(watcher.generation() == 2);

  // A removed file: error, ring kept.
  ::unlink(path.c_str());
  CHECK_FALSE(watcher.ReloadIfChanged().ok());
  CHECK(watcher.ring()->device(2)->port == 6202);
}

TEST_CASE("get_more_nodes is fast on a part power 17 ring", "[ring]") {
  // 400 devices over 2 regions, 8 zones, 100 ips (4 ports each); 3 replicas.
  const uint32_t parts = 1 << 17;
  json hdr = {{"part_shift", 15}, {"devs", json::array()}};
  for (int i = 0; i < 400; ++i) {
    int ip = i / 4;
    hdr["devs"].push_back(Dev(i, 1 + ip % 2, ip % 8, "10.0.0." + std::to_string(ip), 6200 + i % 4,
                              "d" + std::to_string(i)));
  }
  std::mt19937 rng(42);
  Rows rows(3, std::vector<uint16_t>(parts));
  for (auto& row : rows)
    for (auto& v : row) v = static_cast<uint16_t>(rng() % 400);
  auto ring = MustParse(Payload(hdr, rows));
  CHECK(ring->assigned_device_count() == 400);
  auto t0 = std::chrono::steady_clock::now();
  size_t total = 0;
  for (uint32_t p = 0; p < 200; ++p) {
    auto all = ring->GetMoreNodes(p * 613);
    std::set<int> unique;
    for (const Device* d : all) unique.insert(d->id);
    CHECK(unique.size() == all.size());
    total += all.size();
  }
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  INFO("200 full handoff lists took " << ms << " ms");
  CHECK(total > 200 * 390);  // nearly every device is reachable in half the partitions
  CHECK(ms < 2000);
}

TEST_CASE("RingWatcher serves readers while another thread reloads", "[ring]") {
  TempDir dir;
  std::string path = dir.Write("object.ring.gz", Gzip(Payload(SmallHeader(), kSmallRows)));
  auto w = RingWatcher::Open(path);
  REQUIRE(w.ok());
  RingWatcher& watcher = **w;
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        auto ring = watcher.ring();
        if (ring->GetPartNodes(0).empty() || ring->GetMoreNodes(1).empty()) ++bad;
      }
    });
  }
  Rows rows = kSmallRows;
  for (int i = 0; i < 50; ++i) {
    std::swap(rows[0], rows[1]);
    std::string tmp = dir.Write("tmp.ring.gz", Gzip(Payload(SmallHeader(), rows)));
    struct timespec ts[2] = {{1000 + i, 0}, {1000 + i, 0}};
    REQUIRE(utimensat(AT_FDCWD, tmp.c_str(), ts, 0) == 0);
    REQUIRE(::rename(tmp.c_str(), path.c_str()) == 0);  // as swift-ring-builder does
    auto res = watcher.ReloadIfChanged();
    REQUIRE(res.ok());
    CHECK(*res == false);
  }
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(bad == 0);
  CHECK(watcher.generation() == 50);
}

// Collector options for the devices under `devices` of the ring's 127.0.0.1:6200.
static replicant::CollectOptions LocalCollectOptions(const std::string& devices, bool mount_check) {
  replicant::CollectOptions opts;
  opts.devices_dir = devices;
  opts.mount_check = mount_check;
  opts.ring_ip = "127.0.0.1";
  opts.port = 6200;
  return opts;
}

// The job collector's drive check is Swift's check_drive: with mount_check, a device
// dir holding a ".ismount" file counts as mounted (utils.ismount), as a SAIO's do.
TEST_CASE("the job collector takes a device with a .ismount file as mounted", "[replicator]") {
  TempDir dir;
  std::string dev = dir.path + "/sdb1";
  REQUIRE(system(("mkdir -p '" + dev + "/objects/0'").c_str()) == 0);
  json hdr = {{"devs", json::array({Dev(0, 1, 1, "127.0.0.1", 6200, "sdb1")})},
              {"part_shift", 32}, {"version", 1}};
  auto ring = Ring::FromGzip(Gzip(Payload(hdr, {{0}})), "object.ring.gz");
  REQUIRE(ring.ok());
  replicant::PolicyRing pr;
  pr.ring = *ring;
  auto opts = LocalCollectOptions(dir.path, /*mount_check=*/true);
  replicant::StatsBook stats;
  std::mt19937_64 rng(1);
  // A plain directory on the same filesystem as its parent is not mounted.
  CHECK(replicant::CollectJobs({pr}, opts, stats, rng).empty());
  std::ofstream(dev + "/.ismount") << "";
  auto jobs = replicant::CollectJobs({pr}, opts, stats, rng);
  REQUIRE(jobs.size() == 1);
  CHECK(jobs.Get(0)->sync.device == "sdb1");
  CHECK(jobs.Get(0)->partition == 0);
}

// A pass keeps tickets and builds each job when it runs (job_list.h): the built job must
// be what the collector saw: the dir's own name ("007" is partition 7, as Swift's int()
// reads it), the primaries other than the local device, handoffs first when asked.
TEST_CASE("the job collector's tickets build the jobs it found", "[replicator]") {
  TempDir dir;
  std::string objs = dir.path + "/sda/objects";
  REQUIRE(system(("mkdir -p '" + objs + "/0' '" + objs + "/001'").c_str()) == 0);
  json hdr = {{"devs", json::array({Dev(0, 1, 1, "127.0.0.1", 6200, "sda"),
                                    Dev(1, 1, 2, "127.0.0.2", 6200, "sdb"),
                                    Dev(2, 1, 3, "127.0.0.3", 6200, "sdc")})},
              {"part_shift", 31}, {"version", 1}};
  // Partition 0: sda and sdb (a primary job); partition 1: sdb and sdc (a handoff).
  auto ring = Ring::FromGzip(Gzip(Payload(hdr, {{0, 1}, {1, 2}})), "object.ring.gz");
  REQUIRE(ring.ok());
  replicant::PolicyRing pr;
  pr.ring = *ring;
  auto opts = LocalCollectOptions(dir.path, /*mount_check=*/false);
  opts.handoffs_first = true;
  replicant::StatsBook stats;
  for (int seed = 0; seed < 8; ++seed) {
    std::mt19937_64 rng(seed);
    auto jobs = replicant::CollectJobs({pr}, opts, stats, rng);
    REQUIRE(jobs.size() == 2);
    CHECK(jobs.is_handoff(0));
    CHECK_FALSE(jobs.is_handoff(1));
    CHECK(jobs.device(0) == "sda");
    auto handoff = jobs.Get(0);
    CHECK(handoff->partition == 1);
    CHECK(handoff->sync.partition == "001");
    CHECK(handoff->sync.path == objs + "/001");
    CHECK(handoff->sync.obj_path == objs);
    CHECK(handoff->sync.is_handoff);
    REQUIRE(handoff->nodes.size() == 2);
    CHECK(handoff->nodes[0].device == "sdb");
    CHECK(handoff->nodes[1].device == "sdc");
    auto primary = jobs.Get(1);
    CHECK(primary->partition == 0);
    CHECK(primary->sync.partition == "0");
    CHECK(primary->sync.path == objs + "/0");
    CHECK(primary->local_dev_id == 0);
    REQUIRE(primary->nodes.size() == 1);
    CHECK(primary->nodes[0].device == "sdb");
  }
}
