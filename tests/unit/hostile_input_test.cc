// Hostile peer input: bombs that cost far more CPU or memory than their size, built
// the way a peer could send them (REPCONN Xattrs, REPLICATE answers, native frames),
// and the bounds that stop them (docs/reliability.md, "Bounds on one peer's input").
#include <ctime>
#include <string>

#include <catch2/catch.hpp>

#include "formats/pickle.h"
#include "hashes/object_metadata.h"
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
  auto md = hashes::DecodeMetadata(not_a_dict);
  REQUIRE_FALSE(md.ok());
  CHECK(md.status().message().size() < 8192);
  CHECK(md.status().message().find("(truncated)") != std::string::npos);

  std::string bad_value = "\x80\x02}X\x0b\x00\x00\x00X-Timestamp"s +
                          DoublingTuple(24) + "s.";
  md = hashes::DecodeMetadata(bad_value);
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

}  // namespace
}  // namespace replicant
