// SSYNC line codecs and chunked framing. Expected strings were produced once by
// Swift 2.30's own encode_missing / decode_missing / encode_wanted / decode_wanted
// (Debian's /usr/bin/python3) and are embedded here.
#include <catch2/catch.hpp>

#include <vector>

#include "net/framing.h"
#include "sync_backends/ssync/ssync_protocol.h"
#include "tests/unit/ssync_test_util.h"

namespace net = replicant::net;
namespace ssync = replicant::sync::ssync;
using replicant::Status;
using replicant::Timestamp;
using replicant::testing::SinkStream;
using replicant::testing::SourceStream;

namespace {

const std::string kHash = "9d41d8cd98f00b204e9800998ecf0abc";

Timestamp Ts(const char* s) { return Timestamp::Parse(s).value(); }

Timestamp WithOffset(const char* s, uint64_t offset) {
  Timestamp t = Ts(s);
  return Timestamp::FromSeconds(t.seconds(), offset).value();
}

std::string ReadAll(replicant::net::ByteStream& in) {
  std::string out;
  char buf[7];  // small on purpose: exercises chunk boundaries
  for (;;) {
    auto n = in.Read(buf, sizeof buf);
    REQUIRE(n.ok());
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

}  // namespace

TEST_CASE("EncodeMissing matches Swift's encode_missing", "[ssync]") {
  const Timestamp t1 = Ts("1400000000.12345"), t2 = Ts("1400000001.00000"),
                  t3 = Ts("1400000000.50000");
  CHECK(ssync::EncodeMissing(kHash, t1, std::nullopt, std::nullopt) == kHash + " 1400000000.12345");
  CHECK(ssync::EncodeMissing(kHash, t1, t2, std::nullopt) == kHash + " 1400000000.12345 m:15667");
  CHECK(ssync::EncodeMissing(kHash, t1, t2, t3) == kHash + " 1400000000.12345 m:15667,t:9317");
  // t: only travels with m:, and only when the meta timestamp differs.
  CHECK(ssync::EncodeMissing(kHash, t1, t1, t3) == kHash + " 1400000000.12345");
  CHECK(ssync::EncodeMissing(kHash, WithOffset("1400000000.12345", 3), std::nullopt, std::nullopt) ==
        kHash + " 1400000000.12345_0000000000000003");
  CHECK(ssync::EncodeMissing(kHash, t1, t2, t3, /*durable=*/false) ==
        kHash + " 1400000000.12345 m:15667,t:9317,durable:False");
  // An offset-only difference is a zero delta; an older .meta a negative one.
  CHECK(ssync::EncodeMissing(kHash, t1, WithOffset("1400000000.12345", 3), std::nullopt) ==
        kHash + " 1400000000.12345 m:0");
  CHECK(ssync::EncodeMissing(kHash, t1, Ts("1400000000.00000"), std::nullopt) ==
        kHash + " 1400000000.12345 m:-3039");
}

TEST_CASE("DecodeMissing matches Swift's decode_missing", "[ssync]") {
  auto e = ssync::DecodeMissing(kHash + " 1400000000.12345 m:186a0,t:5f5e1\r");
  REQUIRE(e.ok());
  CHECK(e->object_hash == kHash);
  CHECK(e->ts_data.internal() == "1400000000.12345");
  CHECK(e->ts_meta.internal() == "1400000001.12345");
  CHECK(e->ts_ctype.internal() == "1400000004.02970");
  CHECK(e->durable);

  e = ssync::DecodeMissing(kHash + " 1400000000.12345_0000000000000003 m:-10,durable:no");
  REQUIRE(e.ok());
  CHECK(e->ts_data.internal() == "1400000000.12345_0000000000000003");
  CHECK(e->ts_meta.internal() == "1400000000.12329_0000000000000003");
  CHECK(e->ts_ctype.internal() == "1400000000.12345_0000000000000003");
  CHECK_FALSE(e->durable);

  // Items without ':' and unknown keys are ignored, as in Swift.
  e = ssync::DecodeMissing(kHash + " 1400000000.12345 junk,m:1,x:y");
  REQUIRE(e.ok());
  CHECK(e->ts_meta.internal() == "1400000000.12346");
  CHECK(e->ts_ctype.internal() == "1400000000.12345");

  // Quoted forms are unquoted.
  e = ssync::DecodeMissing(kHash + " 1400000000%2E12345");
  REQUIRE(e.ok());
  CHECK(e->ts_data.internal() == "1400000000.12345");
}

TEST_CASE("DecodeMissing rejects what would be unsafe or meaningless", "[ssync]") {
  for (const std::string& bad : std::vector<std::string>{
           "", kHash, "../../../etc 1400000000.12345",
           kHash.substr(1) + " 1400000000.12345", "9D41D8CD98F00B204E9800998ECF0ABC 1400000000.1",
           kHash + " notatime", kHash + " 1400000000.12345 m:zz", kHash + " 1400000000.12345 m:1:2",
           kHash + " -5", kHash + " 1400000000.12345 m:-ffffffffffff", kHash + " 14\xc3\xa9"}) {
    INFO(bad);
    auto e = ssync::DecodeMissing(bad);
    CHECK_FALSE(e.ok());
  }
}

TEST_CASE("EncodeWanted and DecodeWanted match Swift", "[ssync]") {
  auto r = ssync::DecodeMissing(kHash + " 1400000000.12345 m:186a0,t:5f5e1").value();
  const Timestamp t1 = Ts("1400000000.12345"), t2 = Ts("1400000001.00000");
  CHECK(ssync::EncodeWanted(r, {}) == kHash + " dm");
  CHECK(ssync::EncodeWanted(r, {true, t1, t1, t1}) == kHash + " m");
  CHECK(ssync::EncodeWanted(r, {true, t2, t2, t2}) == kHash + " m");
  CHECK(ssync::EncodeWanted(r, {true, t1, t2, t2}) == kHash + " m");
  // A local tombstone has no meta timestamps: only the data is compared.
  CHECK(ssync::EncodeWanted(r, {true, Ts("1300000000"), std::nullopt, std::nullopt}) == kHash + " d");
  auto plain = ssync::DecodeMissing(kHash + " 1400000000.12345").value();
  CHECK_FALSE(ssync::EncodeWanted(plain, {true, t1, t1, t1}).has_value());

  auto w = ssync::DecodeWanted("");
  CHECK((w.data && !w.meta));
  w = ssync::DecodeWanted(" dm");
  CHECK((w.data && w.meta));
  w = ssync::DecodeWanted(" m");
  CHECK((!w.data && w.meta));
  w = ssync::DecodeWanted(" x");
  CHECK((w.data && !w.meta));
}

TEST_CASE("Error lines read like Swift's", "[ssync]") {
  CHECK(ssync::ErrorLine(500, "ERROR: With :UPDATES: 1 failures to 0 successes", true) ==
        ":ERROR: 500 b'ERROR: With :UPDATES: 1 failures to 0 successes'\n");
  CHECK(ssync::ErrorLine(0, "Looking for :MISSING_CHECK: START got b'foo\\r\\n'") ==
        ":ERROR: 0 \"Looking for :MISSING_CHECK: START got b'foo\\\\r\\\\n'\"\n");
  CHECK(ssync::ErrorLine(408, "60 seconds: missing_check line") ==
        ":ERROR: 408 '60 seconds: missing_check line'\n");
  CHECK(ssync::ServiceUnavailableLine() ==
        ":ERROR: 503 b'<html><h1>Service Unavailable</h1><p>The server is currently "
        "unavailable. Please try again at a later time.</p></html>'\n");
  CHECK(ssync::PyBytesRepr(std::string("a\0\xff'", 4)) == "b\"a\\x00\\xff'\"");
  CHECK(replicant::SecondsText(15) == "15 seconds");
  CHECK(replicant::SecondsText(0.5) == "0.5 seconds");
  CHECK(replicant::SecondsText(1) == "1 second");
}

TEST_CASE("Quoting, title case and Python ints", "[ssync]") {
  CHECK(ssync::UrlQuote("/AUTH_t/c/o b%?;#\xc3\xa9~") == "/AUTH_t/c/o%20b%25%3F%3B%23%C3%A9~");
  CHECK(ssync::UrlUnquote("/a/o%20b%2f%zz%C3%A9") == "/a/o b/%zz\xc3\xa9");
  CHECK(ssync::TitleAscii("x-object-meta-foo1bar_baz") == "X-Object-Meta-Foo1Bar_Baz");
  CHECK(ssync::TitleAscii("ETAG") == "Etag");
  CHECK(ssync::ParsePyInt(" +1_000 ") == 1000);
  CHECK(ssync::ParsePyInt("-3") == -3);
  CHECK_FALSE(ssync::ParsePyInt("1__0").has_value());
  CHECK_FALSE(ssync::ParsePyInt("0x10").has_value());
  CHECK_FALSE(ssync::ParsePyInt("").has_value());
  CHECK_FALSE(ssync::ParsePyInt("99999999999999999999").has_value());
  CHECK_FALSE(ssync::ParsePyInt("9223372036854775808").has_value());
  CHECK(ssync::ParsePyInt("-9223372036854775807") == -9223372036854775807LL);
  // Non-ASCII: refused, as Swift's decode_missing reads ASCII only.
  CHECK_FALSE(ssync::ParsePyInt("\xd9\xa1").has_value());
}

TEST_CASE("ChunkedWriter frames each write as one chunk", "[ssync]") {
  SinkStream sink;
  net::ChunkedWriter w(sink);
  REQUIRE(w.Write(":MISSING_CHECK: START\r\n").ok());
  REQUIRE(w.Write("").ok());  // nothing: a zero chunk would end the body
  REQUIRE(w.Write(std::string(300, 'x')).ok());
  REQUIRE(w.Finish().ok());
  CHECK(sink.data == "17\r\n:MISSING_CHECK: START\r\n\r\n12c\r\n" + std::string(300, 'x') +
                         "\r\n0\r\n\r\n");
  CHECK_FALSE(w.Write("late").ok());
}

TEST_CASE("ChunkedReader decodes, with extensions and trailers", "[ssync]") {
  SourceStream src("5;name=v\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nNEXT");
  net::ChunkedReader r(src);
  CHECK(ReadAll(r) == "hello 0123456789");
  CHECK(r.done());
  auto line = net::ChunkedReader(src).ReadLine(100);  // the bytes after the body stay
  CHECK_FALSE(line.ok());

  SourceStream lines("4\r\nab\r\n\r\n3\r\ncd\n\r\n0\r\n\r\n");
  net::ChunkedReader lr(lines);
  CHECK(lr.ReadLine(100).value() == "ab\r");
  CHECK(lr.ReadLine(100).value() == "cd");
  CHECK(lr.ReadLine(100).status().IsNotFound());
}

TEST_CASE("ChunkedReader rejects bad framing and early ends", "[ssync]") {
  for (const std::string& bad : std::vector<std::string>{
           "zz\r\nab\r\n0\r\n\r\n", "\r\n", "2\r\nabXY0\r\n\r\n", "fffffffffffffffff\r\n"}) {
    SourceStream src(bad);
    net::ChunkedReader r(src);
    char buf[64];
    Status s;
    for (int i = 0; i < 10 && s.ok(); ++i) {
      auto n = r.Read(buf, sizeof buf);
      if (!n.ok()) s = n.status();
      else if (*n == 0) break;
    }
    INFO(bad);
    CHECK(s.code() == Status::Code::kIOError);
  }
  SourceStream early("a\r\nabc");
  net::ChunkedReader r(early);
  char buf[64];
  auto n = r.Read(buf, sizeof buf);
  REQUIRE(n.ok());
  CHECK(*n == 3);
  CHECK(r.Read(buf, sizeof buf).status().code() == Status::Code::kIOError);
  SourceStream none("");
  CHECK(net::ChunkedReader(none).Read(buf, 4).status().code() == Status::Code::kIOError);
}
