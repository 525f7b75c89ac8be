// Hostile peer input: bombs that cost far more CPU or memory than their size, built
// the way a peer could send them (REPCONN Xattrs, REPLICATE answers, native frames),
// and the bounds that stop them (docs/reliability.md, "Bounds on one peer's input").
#include <algorithm>
#include <ctime>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "formats/peer_message.h"
#include "formats/pickle.h"
#include "formats/pickle_internal.h"
#include "diskfile/object_metadata.h"
#include "sync_backends/native/native_wire.h"
#include "tests/unit/ssync_test_util.h"

namespace replicant {
namespace {

using testing::SourceStream;
using namespace std::string_literals;

// CPU seconds this process has used.
double CpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// Protocol 2 ops that build t0 = () and t(i) = (t(i-1), t(i-1)) by DUP and TUPLE2:
// two bytes a level for a value of 2^(levels+1) - 1 nodes.
std::string DoublingTuple(int levels) {
  std::string p = ")";
  for (int i = 0; i < levels; ++i) p += "2\x86";
  return p;
}

// A doubling tuple of 24 levels (2^25 nodes) used as the key of `dicts` fresh dicts
// (all kept on the stack, then dropped by POP_MARK): each SETITEM hashed the fully
// expanded key.
std::string HashBomb(int dicts) {
  std::string p = "\x80\x02" + DoublingTuple(24) + "q\x00("s;
  for (int i = 0; i < dicts; ++i) p += "}h\x00Ns"s;
  return p + "1.";
}

// Two doubling tuples of 23 levels built apart (equal values, no shared payload), keys of
// `dicts` fresh dicts: each second SETITEM compared them node by node.
std::string CompareBomb(int dicts) {
  std::string p = "\x80\x02" + DoublingTuple(23) + "q\x00" "0"s + DoublingTuple(23) +
                  "q\x01" "0("s;
  for (int i = 0; i < dicts; ++i) p += "}h\x00Nsh\x01Ns"s;
  return p + "1N.";
}

std::string Framed(const std::string& body) {
  uint32_t n = static_cast<uint32_t>(body.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                  static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + body;
}

// {"Files":[{},{},...]} of about `bytes` bytes.
std::string EmptyFilesFrame(size_t bytes) {
  std::string body = "{\"Files\":[";
  body.reserve(bytes + 16);
  while (body.size() < bytes) body += "{},";
  body += "{}]}";
  return body;
}

TEST_CASE("A dict key hashed once, however often a bomb reuses it", "[hostile]") {
  std::string bomb = HashBomb(40);
  REQUIRE(bomb.size() < 300);
  double start = CpuSeconds();
  auto v = pickle::Loads(bomb);
  double used = CpuSeconds() - start;
  CHECK(v.ok());
  CHECK(used < 0.5);  // was 40 walks of 2^25 nodes: seconds
}

TEST_CASE("Equal keys built apart compare in time linear in the pickle", "[hostile]") {
  std::string bomb = CompareBomb(40);
  REQUIRE(bomb.size() < 600);
  double start = CpuSeconds();
  auto v = pickle::Loads(bomb);
  double used = CpuSeconds() - start;
  CHECK(v.ok());
  CHECK(used < 0.5);
}

TEST_CASE("A container freed during a load does not stand in for a later one",
          "[hostile]") {
  // A dict of 20 keys (large enough for a key index), popped; then a fresh dict, which
  // may reuse its address, of 16 other keys and then 17. The freed dict's size and key
  // index once stuck to the new payload: false "expand too much" errors, and positions
  // past the end of the new dict.
  std::string p = "\x80\x02}("s;
  for (int i = 0; i < 20; ++i) p += "K"s + static_cast<char>(i) + "N";
  p += "u0}(";
  for (int i = 0; i < 16; ++i) p += "K"s + static_cast<char>(100 + i) + "N";
  p += "uK\x11" "Ns."s;
  auto v = pickle::Loads(p);
  REQUIRE(v.ok());
  REQUIRE(v->dict().size() == 17);
  CHECK(v->dict()[16].first.as_int() == 17);
  // The hash bomb's dicts, popped one by one instead of kept: same result.
  std::string popped = "\x80\x02" + DoublingTuple(24) + "q\x00"s;
  for (int i = 0; i < 8; ++i) popped += "}h\x00Ns0"s;
  CHECK(pickle::Loads(popped + ".").ok());
}

TEST_CASE("A metadata error quoting a doubling tuple stays short", "[hostile]") {
  // 55 bytes whose repr is about 200 MB.
  std::string not_a_dict = "\x80\x02" + DoublingTuple(25) + ".";
  double start = CpuSeconds();
  auto md = diskfile::DecodeMetadata(not_a_dict);
  REQUIRE_FALSE(md.ok());
  CHECK(md.status().message().size() < 8192);
  CHECK(md.status().message().find("(truncated)") != std::string::npos);

  std::string bad_value = "\x80\x02}X\x0b\x00\x00\x00X-Timestamp"s +
                          DoublingTuple(24) + "s.";
  md = diskfile::DecodeMetadata(bad_value);
  REQUIRE_FALSE(md.ok());
  CHECK(md.status().message().size() < 8192);
  CHECK(md.status().message().find("not a string") != std::string::npos);
  CHECK(md.status().message().find("(truncated)") != std::string::npos);
  CHECK(CpuSeconds() - start < 0.5);
}

TEST_CASE("A frame of many tiny JSON values is refused before a tree is built",
          "[hostile]") {
  // 8 MiB of {}: about 2.8 million objects, some 230 MB as a JSON tree.
  SourceStream in(Framed(EmptyFilesFrame(8 << 20)));
  double start = CpuSeconds();
  auto j = sync::native::ReadFrame(in, 16 << 20);
  REQUIRE_FALSE(j.ok());
  CHECK(j.status().IsInvalidArgument());
  CHECK(j.status().message().find("JSON values") != std::string::npos);
  CHECK(CpuSeconds() - start < 1.0);
}


// The bounds themselves, as docs/reliability.md states them.

TEST_CASE("A load's key work is bounded by its size, and fails past the budget",
          "[hostile]") {
  uint64_t budget = std::max(pickle::kMinLoadWork, pickle::kLoadWorkPerByte * 1000);
  for (const std::string& bomb : {HashBomb(150), CompareBomb(100)}) {
    uint64_t work = 0;
    auto v = pickle::internal::LoadsWithBudget(bomb, budget, &work);
    REQUIRE(v.ok());
    // Each tuple hashed once (3 units), each key found by one comparison per level.
    CHECK(work < 1000);
  }
  // A dict of 2000 distinct str keys: one hash each, no comparison.
  pickle::Dict d;
  for (int i = 0; i < 2000; ++i) d.emplace_back(pickle::Value::Str("k" + std::to_string(i)), pickle::Value());
  std::string p = pickle::Dumps(pickle::Value::MakeDict(d));
  uint64_t work = 0;
  REQUIRE(pickle::internal::LoadsWithBudget(p, 1 << 20, &work).ok());
  CHECK(work == 2000);
  // The same load with less budget than it needs fails, and says why.
  auto over = pickle::internal::LoadsWithBudget(p, 1000, &work);
  REQUIRE_FALSE(over.ok());
  CHECK(over.status().IsCorruption());
  CHECK(over.status().message().find("more work") != std::string::npos);
  // Loads() grants kLoadWorkPerByte per input byte: far more than this needs.
  CHECK(pickle::Loads(p).ok());
}

TEST_CASE("Keys that are equal, hash-equal or memo-shared still behave as in Python",
          "[hostile]") {
  // {(1, 'a'): 1, (1.0, 'a'): 2} is {(1, 'a'): 2}; a tuple key built apart from an
  // equal one replaces its value and keeps the first key object.
  std::string p = "\x80\x02}(K\x01X\x01\x00\x00\x00" "a\x86K\x01"
                  "G?\xf0\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00" "a\x86K\x02u."s;
  auto v = pickle::Loads(p);
  REQUIRE(v.ok());
  REQUIRE(v->dict().size() == 1);
  CHECK(v->dict()[0].first.items()[0].is_int());
  CHECK(v->dict()[0].second.as_int() == 2);
  // Doubling tuples of the same shape but other leaves stay two keys.
  std::string other = ")K\x01\x86"s;
  for (int i = 0; i < 10; ++i) other += "2\x86";
  auto w = pickle::Loads("\x80\x02}(" + DoublingTuple(10) + "N" + other + "Nu.");
  REQUIRE(w.ok());
  CHECK(w->dict().size() == 2);
  // A list inside a tuple key is still refused.
  auto bad = pickle::Loads("\x80\x02}]\x85Ns."s);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("unhashable") != std::string::npos);
}

TEST_CASE("Repr(max_bytes) walks no further than it prints", "[hostile]") {
  auto v = pickle::Loads("\x80\x02" + DoublingTuple(25) + ".");
  REQUIRE(v.ok());
  double start = CpuSeconds();
  std::string r = v->Repr(100);
  CHECK(CpuSeconds() - start < 0.1);
  CHECK(r.size() == 100 + kTruncatedMarker.size());
  CHECK(r.substr(0, 8) == "((((((((");
  CHECK(r.substr(100) == " (truncated)");
  // Short values are not marked; the limit never splits a UTF-8 sequence.
  CHECK(pickle::Value::Str("ab").Repr(100) == "'ab'");
  CHECK(pickle::Value::Str("ab").Repr(4) == "'ab'");
  CHECK(pickle::Value::Str("\xc3\xa9\xc3\xa9").Repr(4) == "'\xc3\xa9 (truncated)");
  CHECK(CapPeerMessage(std::string(5000, 'x')).size() == kMaxPeerMessage + kTruncatedMarker.size());
  CHECK(CapPeerMessage("short") == "short");
}

TEST_CASE("A frame's JSON values are counted against the batch size", "[hostile]") {
  using sync::native::FrameValueLimit;
  using sync::native::ParseFrameBody;
  size_t limit = FrameValueLimit(4);
  CHECK(limit == 16384 + 32 * 4);
  // Exactly `limit` values pass: the object, its key, the array, limit-3 elements.
  std::string body = "{\"Files\":[";
  for (size_t i = 0; i < limit - 3; ++i) body += i ? ",0" : "0";
  body += "]}";
  CHECK(ParseFrameBody(body, limit).ok());
  auto over = ParseFrameBody(body, limit - 1);
  REQUIRE_FALSE(over.ok());
  CHECK(over.status().message() ==
        "frame holds more than " + std::to_string(limit - 1) + " JSON values");
  // Depth still counts, and a bad body is still "not valid JSON".
  CHECK(ParseFrameBody(std::string(17, '[') + std::string(17, ']'), limit).status().message()
            .find("nests deeper than 16") != std::string::npos);
  CHECK(ParseFrameBody(std::string(16, '[') + std::string(16, ']'), limit).ok());
  CHECK(ParseFrameBody("{\"a\":", limit).status().message() == "frame is not valid JSON");
  // A BeginReplicationResponse for a partition with all 4096 suffixes fits the least
  // limit (a batch of one file).
  nlohmann::json hashes = nlohmann::json::object();
  for (int i = 0; i < 4096; ++i) hashes[fmt::format("{:03x}", i)] = std::string(32, 'a');
  CHECK(ParseFrameBody(nlohmann::json{{"Hashes", hashes}}.dump(), FrameValueLimit(1)).ok());
}

}  // namespace
}  // namespace replicant
