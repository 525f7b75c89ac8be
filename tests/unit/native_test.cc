// Unit tests for the native protocol's pieces: framing and messages, Path confinement,
// Swift's rules for which offered files a receiver wants, and librsync deltas.
#include <fcntl.h>
#include <unistd.h>

#include <random>

#include <catch2/catch.hpp>

#include "diskfile/fd.h"
#include "sync_backends/native/native_delta.h"
#include "sync_backends/native/native_store.h"
#include "sync_backends/native/native_wire.h"
#include "tests/unit/hashes_test_util.h"
#include "tests/unit/ssync_test_util.h"
#include "diskfile/ondisk_files.h"

using namespace replicant;
using namespace replicant::sync::native;
using replicant::testing::SinkStream;
using replicant::testing::SourceStream;

namespace {

std::string Framed(const std::string& body) {
  uint32_t n = static_cast<uint32_t>(body.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                  static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + body;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace

TEST_CASE("Extensions are negotiated by intersection", "[native]") {
  Extensions offer = Extensions::Parse("batch, delta,md5,future-thing");
  CHECK(offer.batch);
  CHECK(offer.delta);
  CHECK(offer.md5);
  Extensions server = Extensions::Parse("batch");
  Extensions agreed = offer.Intersect(server);
  CHECK(agreed.ToHeader() == "batch");
  CHECK_FALSE(Extensions::Parse("").any());
  CHECK(Extensions::All().ToHeader() == "batch,delta,md5");
}

TEST_CASE("Frames round-trip Hummingbird's field names", "[native]") {
  SinkStream out;
  SyncFileRequest r;
  r.path = "sdb1/objects/7/abc/x/1.data";
  r.xattrs = HexEncode(std::string("\x80\x02}q\x00.", 6));
  r.size = 42;
  REQUIRE(WriteFrame(out, ToJson(r)).ok());
  // Exactly the keys a Go encoder writes for SyncFileRequest.
  CHECK(out.data.substr(4).find("\"Path\"") != std::string::npos);
  CHECK(out.data.substr(4).find("\"Xattrs\"") != std::string::npos);
  SourceStream in(out.data);
  auto j = ReadFrame(in, 1 << 20);
  REQUIRE(j.ok());
  SyncFileRequest back;
  REQUIRE(FromJson(*j, &back).ok());
  CHECK(back.path == r.path);
  CHECK(back.size == 42);
  CHECK(*HexDecode(back.xattrs) == std::string("\x80\x02}q\x00.", 6));
  SourceStream empty("");
  CHECK(ReadFrame(empty, 100).status().IsNotFound());
}

TEST_CASE("Malformed frames are errors, never crashes", "[native]") {
  SourceStream huge(std::string("\xff\xff\xff\xf0", 4) + "xx");
  auto h = ReadFrame(huge, 1 << 20);
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().message().find("exceeds the limit") != std::string::npos);

  SourceStream truncated(Framed("{\"Path\": \"abcdef\"}").substr(0, 10));
  auto t = ReadFrame(truncated, 1 << 20);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == Status::Code::kIOError);

  SourceStream short_len(std::string("\x00\x00", 2));
  CHECK_FALSE(ReadFrame(short_len, 100).ok());

  SourceStream garbage(Framed("{not json"));
  CHECK(ReadFrame(garbage, 100).status().IsInvalidArgument());

  SourceStream deep(Framed(std::string(5000, '[') + std::string(5000, ']')));
  auto d = ReadFrame(deep, 1 << 20);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().message().find("nests deeper") != std::string::npos);

  SyncFileRequest r;
  CHECK_FALSE(FromJson(nlohmann::json::parse(R"({"Path": 5})"), &r).ok());
  CHECK_FALSE(FromJson(nlohmann::json::parse(R"({"Size": -1})"), &r).ok());
  CHECK_FALSE(FromJson(nlohmann::json::parse(R"({"Size": 1.5})"), &r).ok());
  CHECK_FALSE(FromJson(nlohmann::json::parse(R"({"Size": 18446744073709551615})"), &r).ok());
  CHECK_FALSE(FromJson(nlohmann::json::parse(R"([1, 2])"), &r).ok());
  BatchRequest b;
  CHECK_FALSE(FromJson(nlohmann::json::parse(R"({"Files": [{}, {}, {}]})"), &b, 2).ok());
  CHECK_FALSE(FromJson(nlohmann::json::parse(R"({"Files": 3})"), &b, 2).ok());
  CHECK(FromJson(nlohmann::json::parse(R"({"Files": [{"Path": "x"}]})"), &b, 2).ok());
  CHECK_FALSE(HexDecode("abc").ok());
  CHECK_FALSE(HexDecode("zz").ok());
  CHECK(*HexDecode("4A4b") == "JK");
}

TEST_CASE("ReadChunk bounds delta chunks", "[native]") {
  SinkStream out;
  REQUIRE(WriteChunk(out, "hello").ok());
  REQUIRE(WriteChunk(out, "").ok());
  SourceStream in(out.data);
  CHECK(*ReadChunk(in) == "hello");
  CHECK(ReadChunk(in)->empty());
  SourceStream big(std::string("\x7f\x00\x00\x00", 4));
  CHECK_FALSE(ReadChunk(big, 1 << 20).ok());
}

TEST_CASE("ParseSyncPath confines a Path to its session's partition", "[native]") {
  diskfile::PartitionLocation t{"/srv/node", "sdb1", "7", 0};
  const std::string hash = "0123456789abcdef0123456789abcdef";
  const std::string good = "sdb1/objects/7/def/" + hash + "/1700000000.00000.data";
  auto p = ParseSyncPath(good, t);
  REQUIRE(p.ok());
  CHECK(p->hash_dir == "/srv/node/sdb1/objects/7/def/" + hash);
  CHECK(p->file.kind == diskfile::FileKind::kData);
  CHECK(ParseSyncPath("sdb1/objects/7/def/" + hash + "/1700000000.00000-a.meta", t).ok());
  CHECK(ParseSyncPath("sdb1/objects/7/def/" + hash + "/1700000000.00000_000000000000000a.ts", t).ok());
  const char* bad[] = {
      "/sdb1/objects/7/def/0123456789abcdef0123456789abcdef/1700000000.00000.data",
      "sdb1/objects/7/../../../etc/passwd/1700000000.00000.data",
      "sdb2/objects/7/def/0123456789abcdef0123456789abcdef/1700000000.00000.data",
      "sdb1/objects-1/7/def/0123456789abcdef0123456789abcdef/1700000000.00000.data",
      "sdb1/objects/8/def/0123456789abcdef0123456789abcdef/1700000000.00000.data",
      "sdb1/objects/7/abc/0123456789abcdef0123456789abcdef/1700000000.00000.data",
      "sdb1/objects/7/DEF/0123456789ABCDEF0123456789ABCDEF/1700000000.00000.data",
      "sdb1/objects/7/def/0123456789abcdef0123456789abcdef/1700000000.00000.durable",
      "sdb1/objects/7/def/0123456789abcdef0123456789abcdef/1700000000.data",
      "sdb1/objects/7/def/0123456789abcdef0123456789abcdef/ 1700000000.00000.data",
      "sdb1/objects/7/def/0123456789abcdef0123456789abcdef/1700000000.00000.data/x",
      "sdb1/objects/7/def/0123456789abcdef0123456789abcdef/.",
      "sdb1/objects/7/def/0123456789abcdef0123456789abcdef/",
      "",
  };
  for (const char* b : bad) {
    INFO(b);
    CHECK_FALSE(ParseSyncPath(b, t).ok());
  }
  CHECK_FALSE(ParseSyncPath(std::string("sdb1/objects/7/def/") + hash + "/17\0.data", t).ok());
}

TEST_CASE("DecideOffer follows Swift's rules, not name order", "[native]") {
  const std::string d1 = "1700000001.00000.data", d2 = "1700000002.00000.data";
  const std::string m3 = "1700000003.00000.meta", t4 = "1700000004.00000.ts";
  CHECK(DecideOffer({d1}, d1) == Offer::kExists);
  CHECK(DecideOffer({}, d1) == Offer::kGoAhead);
  CHECK(DecideOffer({d2}, d1) == Offer::kNewerExists);
  CHECK(DecideOffer({d1}, d2) == Offer::kGoAhead);
  // Newer data behind an even newer .meta is still wanted (a name comparison says no).
  CHECK(DecideOffer({d1, m3}, d2) == Offer::kGoAhead);
  CHECK(DecideOffer({t4}, d2) == Offer::kNewerExists);
  CHECK(DecideOffer({d2}, t4) == Offer::kGoAhead);
  CHECK(DecideOffer({d1, m3}, "1700000002.00000.meta") == Offer::kNewerExists);
  CHECK(CurrentDataFile({d1, m3}) == d1);
  CHECK_FALSE(CurrentDataFile({t4, d1}).has_value());
}

TEST_CASE("Deltas rebuild the new file from the old one and a small diff", "[native]") {
  replicant::testing::TempDir dir;
  std::string old_body = RandomBytes(1 << 20, 1);
  std::string new_body = old_body;
  for (size_t i = 0; i < 64; ++i) new_body[500000 + i] ^= 0x5a;
  new_body += "appended tail";
  replicant::testing::WriteFile(dir / "old", old_body);
  replicant::testing::WriteFile(dir / "new", new_body);
  diskfile::UniqueFd old_fd(open((dir / "old").c_str(), O_RDONLY));
  diskfile::UniqueFd new_fd(open((dir / "new").c_str(), O_RDONLY));

  auto sig = FileSignature(old_fd.get(), old_body.size());
  REQUIRE(sig.ok());
  CHECK(sig->size() < old_body.size() / 20);
  auto enc = DeltaEncoder::Create(*sig);
  REQUIRE(enc.ok());
  std::string delta;
  REQUIRE((*enc)->Encode(new_fd.get(), new_body.size(), [&](std::string_view p) {
    delta.append(p);
    return Status::OK();
  }).ok());
  CHECK(delta.size() < new_body.size() / 20);

  auto feed = [](std::string data) {
    auto sent = std::make_shared<bool>(false);
    return Source([data, sent]() -> Result<std::string> {
      if (*sent) return std::string();
      *sent = true;
      return data;
    });
  };
  std::string rebuilt;
  auto n = ApplyDelta(old_fd.get(), old_body.size(), feed(delta), new_body.size(),
                      [&](std::string_view p) {
                        rebuilt.append(p);
                        return Status::OK();
                      });
  REQUIRE(n.ok());
  CHECK(*n == new_body.size());
  CHECK(rebuilt == new_body);

  auto discard = [](std::string_view) { return Status::OK(); };
  // A delta that rebuilds more than announced, a truncated one, and garbage.
  CHECK_FALSE(ApplyDelta(old_fd.get(), old_body.size(), feed(delta), 1000, discard).ok());
  CHECK_FALSE(ApplyDelta(old_fd.get(), old_body.size(), feed(delta.substr(0, delta.size() / 2)),
                         new_body.size(), discard).ok());
  CHECK_FALSE(ApplyDelta(old_fd.get(), old_body.size(), feed(RandomBytes(5000, 2)),
                         new_body.size(), discard).ok());
  CHECK_FALSE(DeltaEncoder::Create(RandomBytes(100, 3)).ok());
  CHECK_FALSE(DeltaEncoder::Create("").ok());
}
