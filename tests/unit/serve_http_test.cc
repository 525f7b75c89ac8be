// `replicant serve`: HTTP framing, the socket streams, and an in-process server
// (dispatch, keep-alive, the hijack hook REPCONN will use, hostile clients).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "formats/pickle.h"
#include "receiver/handlers.h"
#include "net/framing.h"
#include "net/http_request.h"
#include "net/socket_stream.h"
#include "receiver/server.h"

namespace {

using namespace replicant;
using namespace replicant::receiver;
namespace fs = std::filesystem;

std::optional<int> LineStatus(std::string_view line) {
  net::HttpRequest r;
  auto e = net::ParseRequestLine(line, &r);
  return e ? std::optional<int>(e->status) : std::nullopt;
}

// A connected pair: one end wrapped as a SocketStream, the other raw.
struct Pair {
  int raw = -1;
  std::unique_ptr<net::SocketStream> s;
  explicit Pair(double timeout = 2) {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    s = std::make_unique<net::SocketStream>(fds[0], timeout);
    raw = fds[1];
  }
  ~Pair() { close(raw); }
  void Send(std::string_view d) { REQUIRE(write(raw, d.data(), d.size()) == (ssize_t)d.size()); }
  std::string ReadAll(net::ByteStream& in) {
    std::string out;
    char buf[7];  // small reads cross chunk boundaries
    for (;;) {
      auto n = in.Read(buf, sizeof(buf));
      REQUIRE(n.ok());
      if (*n == 0) return out;
      out.append(buf, *n);
    }
  }
};

struct TestServer {
  std::string dir;
  std::unique_ptr<Server> server;
  std::thread runner;

  explicit TestServer(double client_timeout = 5) {
    std::string tmpl = (fs::temp_directory_path() / "serve-http-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    fs::create_directories(dir + "/sdb1/objects");
    ServerConfig cfg;
    cfg.bind_ip = "127.0.0.1";
    cfg.bind_port = 0;
    cfg.devices = dir;
    cfg.mount_check = false;
    cfg.client_timeout = client_timeout;
    auto swift = ParseSwiftConf("[swift-hash]\nswift_hash_path_suffix = s\n", "swift.conf");
    REQUIRE(swift.ok());
    server = std::make_unique<Server>(cfg, *swift);
    RegisterReplicationHandlers(*server);
  }
  void Start() {
    REQUIRE(server->Listen().ok());
    runner = std::thread([this] { server->Run(); });
  }
  ~TestServer() {
    server->Stop();
    if (runner.joinable()) runner.join();
    fs::remove_all(dir);
  }
  int Connect() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(server->port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    return fd;
  }
};

void SendAll(int fd, std::string_view d) {
  REQUIRE(send(fd, d.data(), d.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(d.size()));
}

// Reads one response with a Content-Length body; returns {status, body}.
std::pair<int, std::string> ReadResponse(int fd) {
  std::string data;
  char buf[4096];
  size_t head_end;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return {0, data};
    data.append(buf, n);
  }
  int status = std::stoi(data.substr(9, 3));
  size_t cl = data.find("Content-Length: ");
  size_t len = cl == std::string::npos || cl > head_end ? 0 : std::stoul(data.substr(cl + 16));
  while (data.size() < head_end + 4 + len) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    data.append(buf, n);
  }
  return {status, data.substr(head_end + 4, len)};
}

}  // namespace

TEST_CASE("Request lines are parsed or refused", "[serve]") {
  net::HttpRequest r;
  REQUIRE_FALSE(net::ParseRequestLine("REPLICATE /sdb1/5%2Dx/abc?x=1 HTTP/1.1", &r));
  CHECK(r.method == "REPLICATE");
  CHECK(r.path == "/sdb1/5-x/abc");
  CHECK(r.query == "x=1");
  REQUIRE_FALSE(net::ParseRequestLine("REPLICATE //sdb1/5 HTTP/1.0", &r));
  CHECK(r.path == "/sdb1/5");  // http.server's "//" reduction
  CHECK(r.http_minor == 0);
  CHECK(LineStatus("GARBAGE") == 400);
  CHECK(LineStatus("GET / HTTP/1.1 extra") == 400);
  CHECK(LineStatus("GET http://x/ HTTP/1.1") == 400);
  CHECK(LineStatus("GET / HTTP/2.0") == 505);
  CHECK(LineStatus("G(T / HTTP/1.1") == 400);
  CHECK(net::PercentDecode("/a%00b%zz%4") == std::string("/a\0b%zz%4", 9));
}

TEST_CASE("Headers and framing are checked", "[serve]") {
  net::HttpRequest r;
  CHECK_FALSE(net::ParseHeaderLine("X-Backend-Storage-Policy-Index:  1 ", &r));
  CHECK(*r.Header("x-backend-storage-policy-index") == "1");
  CHECK(net::ParseHeaderLine(" folded", &r));
  CHECK(net::ParseHeaderLine("no colon", &r));
  CHECK(net::ParseHeaderLine("Bad Name: x", &r));
  net::HttpRequest two;
  net::ParseHeaderLine("Content-Length: 1", &two);
  net::ParseHeaderLine("Content-Length: 2", &two);
  CHECK(net::CheckFraming(two));
  net::HttpRequest both;
  net::ParseHeaderLine("Content-Length: 1", &both);
  net::ParseHeaderLine("Transfer-Encoding: chunked", &both);
  CHECK(net::CheckFraming(both));
  net::HttpRequest gz;
  net::ParseHeaderLine("Transfer-Encoding: gzip", &gz);
  CHECK(net::CheckFraming(gz)->status == 501);
  net::HttpRequest neg;
  net::ParseHeaderLine("Content-Length: -1", &neg);
  CHECK(net::CheckFraming(neg));
  CHECK(*net::ParseChunkSize("1a;ext=1") == 26);
  CHECK_FALSE(net::ParseChunkSize("").ok());
  CHECK_FALSE(net::ParseChunkSize("xyz").ok());
  CHECK_FALSE(net::ParseChunkSize("1234567890abcdef0").ok());
}

TEST_CASE("Chunked bodies round-trip and bad framing is an error", "[serve]") {
  Pair p;
  // Writer side: the raw end reads what ChunkedWriter produced.
  net::ChunkedWriter w(*p.s);
  REQUIRE(w.Write("hello ").ok());
  REQUIRE(w.Write("").ok());  // no empty chunk on the wire
  REQUIRE(w.Write("world").ok());
  REQUIRE(w.Finish().ok());
  char buf[128];
  ssize_t n = read(p.raw, buf, sizeof(buf));
  CHECK(std::string(buf, n) == "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n");

  Pair q;
  q.Send("6;x=y\r\nhello \r\n5\r\nworld\r\n0\r\nTrailer: 1\r\n\r\nNEXT");
  net::ChunkedReader r(*q.s);
  CHECK(q.ReadAll(r) == "hello world");
  CHECK(r.done());
  char rest[4];
  REQUIRE(q.s->Read(rest, 4).ok());
  CHECK(std::string(rest, 4) == "NEXT");  // the next request is left intact

  Pair bad;
  bad.Send("zz\r\n");
  net::ChunkedReader br(*bad.s);
  CHECK(br.Read(buf, 10).status().code() == Status::Code::kIOError);

  Pair early(0.2);
  early.Send("10\r\nshort");
  shutdown(early.raw, SHUT_WR);
  net::ChunkedReader er(*early.s);
  auto got = er.Read(buf, 5);
  REQUIRE(got.ok());
  CHECK_FALSE(er.Read(buf, 10).ok());
}

TEST_CASE("SocketStream times out a stalled peer", "[serve]") {
  Pair p(0.1);
  char c;
  auto start = std::chrono::steady_clock::now();
  auto r = p.s->Read(&c, 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kUnavailable);  // what HandleSsync maps to 408
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  p.Send("REPLICATE /a");
  auto head = net::ReadRequestHead(*p.s, net::HttpLimits{}, 1, 0.2);  // never finishes its line
  CHECK(head.kind == net::HeadResult::Kind::kIoError);
}

TEST_CASE("Server: REPLICATE, keep-alive, 405/412, and bad heads", "[serve]") {
  TestServer ts;
  ts.Start();
  int fd = ts.Connect();
  // Two requests on one connection; no partition dir yet: Swift's {}.
  SendAll(fd, "REPLICATE /sdb1/7 HTTP/1.1\r\nHost: x\r\n\r\n");
  auto [st, body] = ReadResponse(fd);
  CHECK(st == 200);
  CHECK(body == std::string("\x80\x02}q\x00.", 6));
  CHECK_FALSE(fs::exists(ts.dir + "/sdb1/objects/7"));
  SendAll(fd, "REPLICATE /sdb1/7/abc-zzz HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz");
  std::tie(st, body) = ReadResponse(fd);
  CHECK(st == 200);
  CHECK(body == "\x80\x02N.");
  std::string inv;
  std::ifstream(ts.dir + "/sdb1/objects/7/hashes.invalid") >> inv;
  CHECK(inv == "abc");
  SendAll(fd, "GET /sdb1/7 HTTP/1.1\r\n\r\n");
  CHECK(ReadResponse(fd).first == 405);
  SendAll(fd, "REPLICATE /sdb1/%FF HTTP/1.1\r\n\r\n");
  std::tie(st, body) = ReadResponse(fd);
  CHECK(st == 412);
  CHECK(body == "Invalid UTF8 or contains NULL");
  SendAll(fd, "REPLICATE /sdz/7 HTTP/1.1\r\n\r\n");
  CHECK(ReadResponse(fd).first == 507);
  SendAll(fd, "REPLICATE /sdb1/7 HTTP/1.1\r\nX-Backend-Storage-Policy-Index: 9\r\n\r\n");
  std::tie(st, body) = ReadResponse(fd);
  CHECK(st == 503);
  CHECK(body == "No policy with index 9");
  SendAll(fd, "REPLICATE /sdb1/7/../../x HTTP/1.1\r\n\r\n");
  CHECK(ReadResponse(fd).first == 400);
  close(fd);

  fd = ts.Connect();
  SendAll(fd, "REPLICATE /sdb1/7 HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n");
  CHECK(ReadResponse(fd).first == 400);
  close(fd);
  fd = ts.Connect();
  std::string many = "REPLICATE /sdb1/7 HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  SendAll(fd, many + "\r\n");
  CHECK(ReadResponse(fd).first == 400);
  close(fd);
  fd = ts.Connect();
  SendAll(fd, "REPLICATE /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n");
  CHECK(ReadResponse(fd).first == 414);
  close(fd);
  // Still serving.
  fd = ts.Connect();
  SendAll(fd, "REPLICATE /sdb1/7 HTTP/1.0\r\n\r\n");
  CHECK(ReadResponse(fd).first == 200);
  close(fd);
}

TEST_CASE("Server: a hijacking handler (the REPCONN hook) owns the socket", "[serve]") {
  TestServer ts;
  // What a REPCONN handler does: checks, then 200 and the raw connection.
  ts.server->Register("REPCONN", [](Exchange& ex) -> Status {
    auto conn = ex.Hijack(200, {{"X-Test", "1"}});
    if (!conn.ok()) return conn.status();
    char buf[5];
    if (auto st = (*conn)->ReadExact(buf, 5, "ping"); !st.ok()) return st;
    return (*conn)->Write("pong:" + std::string(buf, 5));
  });
  ts.Start();
  int fd = ts.Connect();
  // The first bytes of the protocol arrive together with the head.
  SendAll(fd, "REPCONN /sdb1/7 HTTP/1.1\r\n\r\nhello");
  std::string got;
  char buf[256];
  while (got.find("pong:hello") == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    REQUIRE(n > 0);
    got.append(buf, n);
  }
  CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(got.find("X-Test: 1\r\n") != std::string::npos);
  CHECK(got.find("Content-Length") == std::string::npos);
  CHECK(recv(fd, buf, sizeof(buf), 0) == 0);  // closed after the handler
  close(fd);
}

TEST_CASE("Server: a chunked answer streams, then the connection closes", "[serve]") {
  TestServer ts;
  ts.server->Register("STREAM", [](Exchange& ex) -> Status {
    auto out = ex.StartChunked(200, {{"X-Backend-Accept-No-Commit", "True"}});
    if (!out.ok()) return out.status();
    char buf[4];
    if (auto st = ex.Body().ReadExact(buf, 4, "body"); !st.ok()) return st;
    return (*out)->Write("got " + std::string(buf, 4) + "\n");
  });
  ts.Start();
  int fd = ts.Connect();
  SendAll(fd, "STREAM /sdb1/7 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string got;
  char buf[512];
  // The head comes before the body is sent (Swift's sender waits for it).
  while (got.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    REQUIRE(n > 0);
    got.append(buf, n);
  }
  CHECK(got.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  // No "Connection: close": Python's http.client would reconnect for the body.
  CHECK(got.find("Connection") == std::string::npos);
  SendAll(fd, "4\r\nping\r\n0\r\n\r\n");
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, n);
  }
  CHECK(got.substr(got.find("\r\n\r\n") + 4) == "9\r\ngot ping\n\r\n0\r\n\r\n");
  close(fd);
}

TEST_CASE("Server: stalled and vanishing clients end only their connection", "[serve]") {
  TestServer ts(0.3);
  ts.Start();
  int stalled = ts.Connect();
  SendAll(stalled, "REPLICATE /sdb1/7 HTTP/1.1\r\nX-Slow: ");  // and nothing more
  int silent = ts.Connect();
  int gone = ts.Connect();
  SendAll(gone, "REPLICATE /sdb1/7 HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
  close(gone);
  int fd = ts.Connect();
  SendAll(fd, "REPLICATE /sdb1/7 HTTP/1.1\r\n\r\n");
  CHECK(ReadResponse(fd).first == 200);
  char c;
  CHECK(recv(stalled, &c, 1, 0) == 0);  // closed by the server after client_timeout
  CHECK(recv(silent, &c, 1, 0) == 0);
  close(stalled);
  close(silent);
  close(fd);
}

TEST_CASE("Server: Stop closes idle connections and returns", "[serve]") {
  TestServer ts;
  ts.Start();
  int fd = ts.Connect();
  SendAll(fd, "REPLICATE /sdb1/7 HTTP/1.1\r\n\r\n");
  CHECK(ReadResponse(fd).first == 200);
  auto start = std::chrono::steady_clock::now();
  ts.server->Stop();
  ts.runner.join();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  char c;
  CHECK(recv(fd, &c, 1, 0) == 0);
  close(fd);
}
