// HttpResponseParser: framing (Content-Length, chunked, to-close), interim responses,
// keep-alive rules, and every malformed, truncated or oversized response.
#include <catch2/catch.hpp>

#include <string>

#include "net/http_response_parser.h"

namespace {

using replicant::net::HttpResponseParser;

// Feeds `wire` in pieces of `step` bytes; returns the status of the first failure.
replicant::Status FeedAll(HttpResponseParser& p, const std::string& wire, size_t step,
                          size_t* used_total = nullptr) {
  size_t total = 0;
  for (size_t i = 0; i < wire.size() && !p.done(); i += step) {
    auto used = p.Feed(std::string_view(wire).substr(i, step));
    if (!used.ok()) return used.status();
    total += *used;
  }
  if (used_total) *used_total = total;
  return replicant::Status::OK();
}

}  // namespace

TEST_CASE("response with Content-Length, in any split", "[http]") {
  std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
  for (size_t step : {1u, 2u, 7u, 1000u}) {
    HttpResponseParser p;
    size_t used = 0;
    REQUIRE(FeedAll(p, wire, step, &used).ok());
    REQUIRE(p.done());
    CHECK(used == wire.size());
    CHECK(p.status() == 200);
    CHECK(p.body() == "hello");
    CHECK(p.keep_alive());
    REQUIRE(p.Header("x-a"));
    CHECK(*p.Header("X-A") == "b");
  }
}

TEST_CASE("bytes after the response are not consumed", "[http]") {
  HttpResponseParser p;
  auto used = p.Feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1");
  REQUIRE(used.ok());
  CHECK(*used == 40);
  CHECK(p.done());
  CHECK(p.body() == "ok");
}

TEST_CASE("chunked bodies with extensions and trailers", "[http]") {
  std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=x\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (size_t step : {1u, 3u, 1000u}) {
    HttpResponseParser p;
    size_t used = 0;
    REQUIRE(FeedAll(p, wire, step, &used).ok());
    REQUIRE(p.done());
    CHECK(used == wire.size());
    CHECK(p.body() == "hello 0123456789");
    CHECK(p.keep_alive());
  }
}

TEST_CASE("interim 1xx responses are skipped and 204 has no body", "[http]") {
  HttpResponseParser p;
  REQUIRE(p.Feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 507 Insufficient Storage\r\n"
                 "Content-Length: 3\r\n\r\nabc").ok());
  CHECK(p.done());
  CHECK(p.status() == 507);
  CHECK(p.body() == "abc");
  HttpResponseParser q;
  REQUIRE(q.Feed("HTTP/1.1 204 No Content\r\n\r\n").ok());
  CHECK(q.done());
}

TEST_CASE("keep-alive follows HTTP version and Connection", "[http]") {
  auto keep = [](const std::string& head) {
    HttpResponseParser p;
    REQUIRE(p.Feed(head + "Content-Length: 0\r\n\r\n").ok());
    REQUIRE(p.done());
    return p.keep_alive();
  };
  CHECK(keep("HTTP/1.1 200 OK\r\n"));
  CHECK_FALSE(keep("HTTP/1.1 200 OK\r\nConnection: close\r\n"));
  CHECK_FALSE(keep("HTTP/1.1 200 OK\r\nConnection: foo, Close\r\n"));
  CHECK_FALSE(keep("HTTP/1.0 200 OK\r\n"));
  CHECK(keep("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"));
}

TEST_CASE("a body without length runs to the end of the connection", "[http]") {
  HttpResponseParser p;
  REQUIRE(p.Feed("HTTP/1.1 200 OK\r\n\r\nsome").ok());
  REQUIRE(p.Feed(" body").ok());
  CHECK_FALSE(p.done());
  REQUIRE(p.FinishOnEof().ok());
  CHECK(p.done());
  CHECK(p.body() == "some body");
  CHECK_FALSE(p.keep_alive());
}

TEST_CASE("truncated responses are clear errors", "[http]") {
  struct Case { std::string wire; std::string error; };
  for (const auto& c : std::vector<Case>{
           {"", "before any response"},
           {"HTTP/1.1 2", "inside the status line"},
           {"HTTP/1.1 200 OK\r\nContent-", "inside the response headers"},
           {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "7 bytes before the end"},
           {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "chunked body"},
           {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", "chunked body"},
       }) {
    HttpResponseParser p;
    REQUIRE(p.Feed(c.wire).ok());
    auto s = p.FinishOnEof();
    INFO(c.wire);
    REQUIRE_FALSE(s.ok());
    CHECK(s.IsCorruption());
    CHECK_THAT(s.message(), Catch::Contains(c.error));
    CHECK(p.started() == !c.wire.empty());
  }
}

TEST_CASE("malformed responses are clear errors and stay failed", "[http]") {
  struct Case { std::string wire; std::string error; };
  for (const auto& c : std::vector<Case>{
           {"HTTP/2 200 OK\r\n", "bad HTTP status line"},
           {"SSH-2.0-OpenSSH\r\n", "bad HTTP status line"},
           {"HTTP/1.1 20x OK\r\n", "bad HTTP status line"},
           {"HTTP/1.1 200OK\r\n", "bad HTTP status line"},
           {"HTTP/1.1 200 OK\r\nno colon\r\n", "bad HTTP header line"},
           {"HTTP/1.1 200 OK\r\nBad Name: x\r\n", "bad HTTP header name"},
           {"HTTP/1.1 200 OK\r\n folded\r\n", "continuation before any header"},
           {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"},
           {"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "bad Content-Length"},
           {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting"},
           {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"},
           {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n", "missing CRLF"},
           {"HTTP/1.1 101 Switching Protocols\r\n\r\n", "unexpected 101"},
       }) {
    HttpResponseParser p;
    auto r = p.Feed(c.wire);
    INFO(c.wire);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().IsCorruption());
    CHECK_THAT(r.status().message(), Catch::Contains(c.error));
    CHECK_FALSE(p.Feed("HTTP/1.1 200 OK\r\n").ok());
    CHECK_FALSE(p.FinishOnEof().ok());
  }
}

TEST_CASE("heads and bodies are bounded", "[http]") {
  HttpResponseParser::Limits small{100, 10};
  {
    HttpResponseParser p(small);
    auto r = p.Feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("larger than the 10 byte limit"));
  }
  {
    HttpResponseParser p(small);
    auto r = p.Feed("HTTP/1.1 200 OK\r\nX: " + std::string(200, 'a'));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("head longer than 100 bytes"));
  }
  {
    // A header line without end, fed byte by byte, fails at the bound too.
    HttpResponseParser p(small);
    replicant::Status s;
    for (int i = 0; i < 1000 && s.ok(); ++i) {
      auto r = p.Feed(i < 17 ? std::string(1, "HTTP/1.1 200 OK\r\n"[i]) : "a");
      if (!r.ok()) s = r.status();
    }
    CHECK_THAT(s.message(), Catch::Contains("head longer"));
  }
  {
    HttpResponseParser p(small);
    auto r = p.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n3\r\n");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("byte limit"));
  }
  {
    HttpResponseParser p(small);
    auto r = p.Feed("HTTP/1.1 200 OK\r\n\r\n12345678901");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("byte limit"));
  }
  {
    HttpResponseParser p(small);
    auto r = p.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                    std::string(2000, 'x'));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("chunk line longer"));
  }
}
