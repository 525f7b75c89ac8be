// ReplicateClient over HttpTransport against scripted loopback servers: Swift's
// request bytes, keep-alive reuse, servers that close kept-alive connections (idle,
// or under the next request), cut-short and oversized responses, timeouts, and the
// concurrent StartGetHashes.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "formats/pickle.h"
#include "formats/replicate_batch.h"
#include "net/http_transport.h"
#include "replicator/replicate_client.h"

namespace {

using namespace replicant;
using Clock = std::chrono::steady_clock;

// Reads one request head; false when the client closed first.
bool ReadHead(int fd, std::string* out = nullptr) {
  std::string head;
  char c;
  while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
    if (recv(fd, &c, 1, 0) != 1) return false;
    head += c;
  }
  if (out) *out = head;
  return true;
}

// A server on 127.0.0.1 (free port) running `handler(fd, n)` for its n-th connection,
// each on its own thread; stopped and joined by the destructor.
class ScriptedServer {
 public:
  using Handler = std::function<void(int fd, int n)>;
  explicit ScriptedServer(Handler h) : handler_(std::move(h)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(listen_fd_, 16) == 0);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    acceptor_.join();
    close(listen_fd_);
    {
      // Handlers blocked reading from a client that keeps its connection: end them.
      std::lock_guard<std::mutex> l(mu_);
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
  }
  int port() const { return port_; }
  int connections() const { return n_; }
  std::string last_head() {
    std::lock_guard<std::mutex> l(mu_);
    return last_head_;
  }
  // Reads one request head (kept for last_head()); false when the client closed first.
  bool ReadRequest(int fd) {
    std::string head;
    if (!ReadHead(fd, &head)) return false;
    std::lock_guard<std::mutex> l(mu_);
    last_head_ = head;
    return true;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{3, 0};  // no handler outlives a stuck client for long
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      int n = n_++;
      {
        std::lock_guard<std::mutex> l(mu_);
        open_.insert(fd);
      }
      conns_.emplace_back([this, fd, n] {
        handler_(fd, n);
        std::lock_guard<std::mutex> l(mu_);
        open_.erase(fd);
        close(fd);
      });
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> n_{0};
  std::thread acceptor_;
  std::vector<std::thread> conns_;
  std::mutex mu_;
  std::string last_head_;
  std::set<int> open_;
};

// Runs on server threads, where Catch's assertions must not be used; a failed send
// shows up as the client's error.
void Send(int fd, const std::string& s) { (void)!send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

std::string HashesPickle(const std::string& hash) {
  return pickle::Dumps(pickle::Value::MakeDict(
      {{pickle::Value::Str("abc"), pickle::Value::Str(hash)},
       {pickle::Value::Str("def"), pickle::Value::None()}}));
}

std::string Ok(const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

const std::string kHash = "0123456789abcdef0123456789abcdef";

struct Fresh {  // each test starts with no cached connections and zero counters
  Fresh() {
    net::CloseThreadHttpConnections();
    net::ResetThreadHttpCounters();
  }
  ~Fresh() { net::CloseThreadHttpConnections(); }
};

ReplicateClient Client(double http_timeout = 5) { return ReplicateClient({1.0, http_timeout}); }

// The partitions of a REPLICATE-BATCH head; empty for any other request.
std::vector<std::string> BatchPartitions(const std::string& head) {
  std::vector<std::string> out;
  if (head.rfind("REPLICATE-BATCH ", 0) != 0) return out;
  size_t at = head.find("X-Replicant-Partitions: ");
  if (at == std::string::npos) return out;
  at += 24;
  std::string list = head.substr(at, head.find("\r\n", at) - at);
  for (size_t s = 0;;) {
    size_t c = list.find(',', s);
    out.push_back(list.substr(s, c == std::string::npos ? c : c - s));
    if (c == std::string::npos) return out;
    s = c + 1;
  }
}

// A batch answer: `body` for each of n partitions.
std::string BatchOk(size_t n, const std::string& body) {
  std::string all;
  for (size_t i = 0; i < n; ++i) all += "200 " + std::to_string(body.size()) + "\n" + body;
  return Ok(all);
}

}  // namespace

TEST_CASE("REPLICATE requests carry Swift's request line and headers", "[replicate_client]") {
  std::string want =
      "REPLICATE /sd%20b/17/abc-fff HTTP/1.1\r\n"
      "Host: 10.0.0.1:6200\r\n"
      "Accept-Encoding: identity\r\n"
      "Content-Length: 0\r\n"
      "user-agent: object-replicator " + std::to_string(getpid()) + "\r\n"
      "X-Backend-Storage-Policy-Index: 2\r\n\r\n";
  CHECK(BuildReplicateRequest({"10.0.0.1", 6200, "sd b"}, "/sd b/17/abc-fff", 2) == want);
  CHECK_THAT(BuildReplicateRequest({"::1", 6200, "d"}, "/d/1", 0),
             Catch::Contains("Host: [::1]:6200\r\n"));
  // http.client leaves out the default port.
  CHECK_THAT(BuildReplicateRequest({"10.0.0.1", 80, "d"}, "/d/1", 0),
             Catch::Contains("Host: 10.0.0.1\r\n"));
  CHECK(Client().StartGetHashes({})->Collect().empty());
}

TEST_CASE("requests to a peer share one keep-alive connection", "[replicate_client]") {
  Fresh fresh;
  ScriptedServer server([&](int fd, int) {
    while (server.ReadRequest(fd)) Send(fd, Ok(HashesPickle(kHash)));
  });
  auto client = Client();
  ReplicatePeer peer{"127.0.0.1", server.port(), "sdb"};
  for (int i = 0; i < 3; ++i) {
    auto r = client.GetHashes(peer, "5", 1);
    REQUIRE(r.ok());
    CHECK(r->http_status == 200);
    CHECK(r->hashes.at("abc") == kHash);
    CHECK(r->hashes.at("def").empty());
  }
  CHECK(server.last_head() == BuildReplicateRequest(peer, "/sdb/5", 1));
  auto rh = client.Rehash(peer, "5", 1, {"abc", "def"});
  REQUIRE(rh.ok());
  CHECK(rh->hashes.empty());
  CHECK_THAT(server.last_head(), Catch::StartsWith("REPLICATE /sdb/5/abc-def HTTP/1.1\r\n"));
  CHECK(server.connections() == 1);
  auto c = net::ThreadHttpCounters();
  CHECK(c.connects == 1);
  CHECK(c.reuses == 3);
  CHECK(c.retries == 0);
}

TEST_CASE("a kept-alive connection the server closed while idle is replaced",
          "[replicate_client]") {
  Fresh fresh;
  ScriptedServer server([&](int fd, int) {
    if (server.ReadRequest(fd)) Send(fd, Ok(HashesPickle(kHash)));
    // and close, without having said "Connection: close"
  });
  auto client = Client();
  ReplicatePeer peer{"127.0.0.1", server.port(), "sdb"};
  for (int i = 0; i < 3; ++i) {
    REQUIRE(client.GetHashes(peer, "5", 0).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the FIN arrive
  }
  CHECK(server.connections() == 3);
  CHECK(net::ThreadHttpCounters().connects == 3);
}

TEST_CASE("a request the server drops on a kept-alive connection is retried once",
          "[replicate_client]") {
  Fresh fresh;
  ScriptedServer server([&](int fd, int n) {
    if (!server.ReadRequest(fd)) return;
    Send(fd, Ok(HashesPickle(kHash)));
    // The first connection takes the second request and closes without a byte, as a
    // server whose keep-alive timeout fired just then does.
    if (n == 0) { server.ReadRequest(fd); return; }
    while (server.ReadRequest(fd)) Send(fd, Ok(HashesPickle(kHash)));
  });
  auto client = Client();
  ReplicatePeer peer{"127.0.0.1", server.port(), "sdb"};
  REQUIRE(client.GetHashes(peer, "5", 0).ok());
  auto r = client.GetHashes(peer, "5", 0);
  REQUIRE(r.ok());
  CHECK(r->hashes.at("abc") == kHash);
  auto c = net::ThreadHttpCounters();
  CHECK(c.retries == 1);
  CHECK(c.connects == 2);
  CHECK(server.connections() == 2);
}

TEST_CASE("a response cut short is an error and is not retried", "[replicate_client]") {
  Fresh fresh;
  ScriptedServer server([&](int fd, int) {
    if (!server.ReadRequest(fd)) return;
    Send(fd, Ok(HashesPickle(kHash)));
    if (!server.ReadRequest(fd)) return;
    Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
  });
  auto client = Client();
  ReplicatePeer peer{"127.0.0.1", server.port(), "sdb"};
  REQUIRE(client.GetHashes(peer, "5", 0).ok());
  auto r = client.GetHashes(peer, "5", 0);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("truncated") && Catch::Contains("REPLICATE 127.0.0.1"));
  CHECK(net::ThreadHttpCounters().retries == 0);
  CHECK(server.connections() == 1);
}

TEST_CASE("Connection: close and HTTP/1.0 responses are not reused", "[replicate_client]") {
  Fresh fresh;
  ScriptedServer server([&](int fd, int n) {
    // Keeps reading: only the client's decision closes these connections.
    while (server.ReadRequest(fd)) {
      std::string resp = Ok(HashesPickle(kHash), n == 0 ? "Connection: close\r\n" : "");
      if (n == 1) resp.replace(0, 8, "HTTP/1.0");
      Send(fd, resp);
    }
  });
  auto client = Client();
  ReplicatePeer peer{"127.0.0.1", server.port(), "sdb"};
  for (int i = 0; i < 3; ++i) REQUIRE(client.GetHashes(peer, "5", 0).ok());
  CHECK(server.connections() == 3);
}

TEST_CASE("chunked REPLICATE responses are decoded", "[replicate_client]") {
  Fresh fresh;
  ScriptedServer server([&](int fd, int) {
    if (!server.ReadRequest(fd)) return;
    std::string body = HashesPickle(kHash);
    std::string half = body.substr(0, 10), rest = body.substr(10);
    char a[16], b[16];
    snprintf(a, sizeof a, "%zx", half.size());
    snprintf(b, sizeof b, "%zx", rest.size());
    Send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(a) + "\r\n" +
                 half + "\r\n" + b + "\r\n" + rest + "\r\n0\r\n\r\n");
  });
  auto r = Client().GetHashes({"127.0.0.1", server.port(), "sdb"}, "5", 0);
  REQUIRE(r.ok());
  CHECK(r->hashes.at("abc") == kHash);
}

TEST_CASE("HTTP errors are responses, bad bodies are errors", "[replicate_client]") {
  Fresh fresh;
  ScriptedServer server([&](int fd, int n) {
    if (!server.ReadRequest(fd)) return;
    if (n == 0) Send(fd, "HTTP/1.1 507 Insufficient Storage\r\nContent-Length: 4\r\n\r\nnope");
    if (n == 1) Send(fd, Ok("not a pickle", "Connection: close\r\n"));
    if (n == 2) Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n");
    if (n == 3) Send(fd, "garbage\r\n\r\n");
  });
  auto client = Client();
  ReplicatePeer peer{"127.0.0.1", server.port(), "sdb"};
  auto r507 = client.GetHashes(peer, "5", 0);
  REQUIRE(r507.ok());
  CHECK(r507->http_status == 507);
  CHECK(r507->hashes.empty());
  net::CloseThreadHttpConnections();
  auto bad = client.GetHashes(peer, "5", 0);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("bad hashes pickle"));
  auto big = client.GetHashes(peer, "5", 0);
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().IsCorruption());
  CHECK_THAT(big.status().message(), Catch::Contains("byte limit"));
  auto junk = client.GetHashes(peer, "5", 0);
  REQUIRE_FALSE(junk.ok());
  CHECK_THAT(junk.status().message(), Catch::Contains("bad HTTP status line"));
}

TEST_CASE("a silent server times out after http_timeout", "[replicate_client]") {
  Fresh fresh;
  ScriptedServer server([&](int fd, int) {
    server.ReadRequest(fd);
    char c;
    recv(fd, &c, 1, 0);  // until the client gives up and closes
  });
  auto t0 = Clock::now();
  auto r = Client(0.3).GetHashes({"127.0.0.1", server.port(), "sdb"}, "5", 0);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kUnavailable);
  CHECK_THAT(r.status().message(), Catch::Contains("timed out after 0.3s"));
  CHECK(secs >= 0.29);
  CHECK(secs < 2.0);
}

TEST_CASE("a refused connection is Unavailable", "[replicate_client]") {
  Fresh fresh;
  int port;
  {
    ScriptedServer gone([](int, int) {});
    port = gone.port();
  }
  auto r = Client().GetHashes({"127.0.0.1", port, "sdb"}, "5", 0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kUnavailable);
  CHECK_THAT(r.status().message(), Catch::Contains("connect"));
}

TEST_CASE("StartGetHashes asks every peer at once and keeps their order",
          "[replicate_client]") {
  Fresh fresh;
  std::vector<std::unique_ptr<ScriptedServer>> servers;
  for (char h : {'a', 'b', 'c'}) {
    servers.push_back(std::make_unique<ScriptedServer>([h](int fd, int) {
      while (ReadHead(fd)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        Send(fd, Ok(HashesPickle(std::string(32, h))));
      }
    }));
  }
  int refused;
  {
    ScriptedServer gone([](int, int) {});
    refused = gone.port();
  }
  std::vector<ReplicatePeer> peers = {{"127.0.0.1", servers[0]->port(), "d0"},
                                      {"127.0.0.1", refused, "d1"},
                                      {"127.0.0.1", servers[1]->port(), "d2"},
                                      {"127.0.0.1", servers[2]->port(), "d3"}};
  auto client = Client();
  for (int round = 0; round < 2; ++round) {  // the second round reuses the connections
    auto t0 = Clock::now();
    std::vector<HashesRequest> requests;
    for (const auto& p : peers) requests.push_back({p, "9", 0});
    auto rs = client.StartGetHashes(requests)->Collect();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    REQUIRE(rs.size() == 4);
    REQUIRE(rs[0].ok());
    CHECK(rs[0]->hashes.at("abc") == std::string(32, 'a'));
    REQUIRE_FALSE(rs[1].ok());
    CHECK_THAT(rs[1].status().message(), Catch::Contains(std::to_string(refused)));
    REQUIRE(rs[2].ok());
    CHECK(rs[2]->hashes.at("abc") == std::string(32, 'b'));
    REQUIRE(rs[3].ok());
    CHECK(rs[3]->hashes.at("abc") == std::string(32, 'c'));
    CHECK(secs < 0.75);  // one at a time would take 0.9 s
  }
  CHECK(net::ThreadHttpCounters().reuses == 3);
}

TEST_CASE("StartGetHashes sends at once and a silent peer costs one timeout for all",
          "[replicate_client]") {
  Fresh fresh;
  std::atomic<int> answered{0};
  // Answers each request as it comes, on as many connections as the client opens.
  ScriptedServer good([&](int fd, int) {
    std::string head;
    while (ReadHead(fd, &head)) {
      auto batch = BatchPartitions(head);
      Send(fd, batch.empty() ? Ok(HashesPickle(std::string(32, 'g')))
                             : BatchOk(batch.size(), HashesPickle(std::string(32, 'g'))));
      answered += batch.empty() ? 1 : static_cast<int>(batch.size());
    }
  });
  ScriptedServer silent([](int fd, int) {
    while (ReadHead(fd)) {
    }
  });
  ReplicateTimeouts t;
  t.http_timeout = 0.6;
  ReplicateClient client(t);
  std::vector<HashesRequest> reqs;
  for (const char* part : {"1", "2", "3"}) {
    reqs.push_back({{"127.0.0.1", good.port(), "sdb"}, part, 0});
    reqs.push_back({{"127.0.0.1", silent.port(), "sdc"}, part, 0});
  }
  auto t0 = Clock::now();
  auto pending = client.StartGetHashes(reqs);
  // The requests are out before Collect(): the good peer answers all three meanwhile.
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (answered < 3 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(answered == 3);
  auto rs = pending->Collect();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  REQUIRE(rs.size() == 6);
  for (size_t i = 0; i < rs.size(); i += 2) {
    REQUIRE(rs[i].ok());
    CHECK(rs[i]->hashes.at("abc") == std::string(32, 'g'));
    REQUIRE_FALSE(rs[i + 1].ok());
    CHECK_THAT(rs[i + 1].status().message(), Catch::Contains("timed out"));
    CHECK_THAT(rs[i + 1].status().message(), Catch::Contains("/sdc/" + reqs[i + 1].partition));
  }
  CHECK(secs >= 0.55);
  CHECK(secs < 1.1);  // one after another would take 1.8 s
}

TEST_CASE("StartGetHashes asks a peer device's partitions in one REPLICATE-BATCH",
          "[replicate_client]") {
  Fresh fresh;
  std::atomic<int> batches{0}, singles{0};
  std::mutex mu;
  std::vector<std::string> heads;
  ScriptedServer peer([&](int fd, int) {
    std::string head;
    while (ReadHead(fd, &head)) {
      {
        std::lock_guard<std::mutex> l(mu);
        heads.push_back(head);
      }
      auto parts = BatchPartitions(head);
      if (parts.empty()) {
        ++singles;
        Send(fd, Ok(HashesPickle(std::string(32, 's'))));
        continue;
      }
      ++batches;
      std::string all;  // each partition's own hash, so order mistakes show
      for (const auto& p : parts) {
        std::string body = HashesPickle(std::string(32, static_cast<char>('a' + std::stoi(p))));
        all += "200 " + std::to_string(body.size()) + "\n" + body;
      }
      Send(fd, Ok(all));
    }
  });
  std::vector<HashesRequest> reqs;
  for (int p = 0; p < 20; ++p) reqs.push_back({{"127.0.0.1", peer.port(), "sdb"}, std::to_string(p), 1});
  reqs.push_back({{"127.0.0.1", peer.port(), "sdc"}, "3", 1});  // another device: alone
  reqs.push_back({{"127.0.0.1", peer.port(), "sdb"}, "5", 1});  // asked twice: alone
  auto rs = Client().StartGetHashes(reqs)->Collect();
  REQUIRE(rs.size() == 22);
  REQUIRE(rs[21].ok());
  CHECK(rs[21]->hashes.at("abc") == std::string(32, 's'));
  for (int p = 0; p < 20; ++p) {
    REQUIRE(rs[p].ok());
    CHECK(rs[p]->http_status == 200);
    CHECK(rs[p]->hashes.at("abc") == std::string(32, static_cast<char>('a' + p)));
  }
  REQUIRE(rs[20].ok());
  CHECK(rs[20]->hashes.at("abc") == std::string(32, 's'));
  CHECK(batches == 2);  // 16 + 4
  CHECK(singles == 2);
  std::lock_guard<std::mutex> l(mu);
  for (const auto& h : heads) {
    if (h.rfind("REPLICATE-BATCH", 0) != 0) continue;
    CHECK_THAT(h, Catch::StartsWith("REPLICATE-BATCH /sdb HTTP/1.1\r\n"));
    CHECK_THAT(h, Catch::Contains("X-Backend-Storage-Policy-Index: 1\r\n"));
  }
}

TEST_CASE("a peer that answers REPLICATE-BATCH with 405 is asked partition by partition",
          "[replicate_client]") {
  Fresh fresh;
  std::atomic<int> batches{0}, singles{0};
  ScriptedServer swift([&](int fd, int) {
    std::string head;
    while (ReadHead(fd, &head)) {
      if (!BatchPartitions(head).empty()) {
        ++batches;
        Send(fd, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
      } else {
        ++singles;
        Send(fd, Ok(HashesPickle(kHash)));
      }
    }
  });
  std::vector<HashesRequest> reqs;
  for (const char* p : {"4", "5", "6"}) reqs.push_back({{"127.0.0.1", swift.port(), "sdb"}, p, 0});
  auto client = Client();
  for (int round = 0; round < 2; ++round) {
    auto rs = client.StartGetHashes(reqs)->Collect();
    REQUIRE(rs.size() == 3);
    for (auto& r : rs) {
      REQUIRE(r.ok());
      CHECK(r->hashes.at("abc") == kHash);
    }
  }
  CHECK(batches == 1);  // the second round knew
  CHECK(singles == 6);
}

TEST_CASE("a batch answer is each partition's: framing errors, 507s and bad entries",
          "[replicate_client]") {
  Fresh fresh;
  std::mutex mu;
  std::string reply;
  ScriptedServer peer([&](int fd, int) {
    while (ReadHead(fd)) {
      std::string r;
      {
        std::lock_guard<std::mutex> l(mu);
        r = reply;
      }
      Send(fd, r);
    }
  });
  std::vector<HashesRequest> reqs;
  for (const char* p : {"1", "2"}) reqs.push_back({{"127.0.0.1", peer.port(), "sdb"}, p, 0});
  auto client = Client();
  auto ask = [&](const std::string& r) {
    {
      std::lock_guard<std::mutex> l(mu);
      reply = r;
    }
    net::CloseThreadHttpConnections();
    return client.StartGetHashes(reqs)->Collect();
  };
  // The device is full: a 507 for each partition, as REPLICATE answers it.
  auto rs = ask("HTTP/1.1 507 Insufficient Storage\r\nContent-Length: 0\r\n\r\n");
  for (auto& r : rs) {
    REQUIRE(r.ok());
    CHECK(r->http_status == 507);
  }
  // Lengths past the end, entries short or extra, statuses out of range: all corrupt.
  std::string good = HashesPickle(kHash);
  std::string entry = "200 " + std::to_string(good.size()) + "\n" + good;
  for (const std::string& body : std::vector<std::string>{
           "200 99\nxx", entry, entry + entry + "200 0\n", "999 0\n200 0\n",
           "200 -1\n200 0\n", "200 18446744073709551616\n", "2000 0\n200 0\n"}) {
    rs = ask(Ok(body));
    REQUIRE(rs.size() == 2);
    for (auto& r : rs) {
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().IsCorruption());
      CHECK_THAT(r.status().message(), Catch::Contains("REPLICATE-BATCH 127.0.0.1:"));
    }
  }
  // One good entry, one whose pickle is bad: only that one fails.
  rs = ask(Ok(entry + "200 3\nxyz"));
  REQUIRE(rs[0].ok());
  CHECK(rs[0]->hashes.at("abc") == kHash);
  REQUIRE_FALSE(rs[1].ok());
  CHECK_THAT(rs[1].status().message(), Catch::Contains("/sdb/2"));
  // An entry's own error status is a response, as REPLICATE's would be.
  rs = ask(Ok(entry + "500 5\nerror"));
  REQUIRE(rs[1].ok());
  CHECK(rs[1]->http_status == 500);
}

TEST_CASE("REPLICATE-BATCH partition lists are 1 to 16 distinct runs of digits",
          "[replicate_client]") {
  namespace rb = replicate_batch;
  auto ok = rb::SplitPartitions("0,17,4294967295");
  REQUIRE(ok.ok());
  CHECK(*ok == std::vector<std::string>{"0", "17", "4294967295"});
  CHECK(rb::JoinPartitions(*ok) == "0,17,4294967295");
  std::vector<std::string> sixteen;
  for (int i = 0; i < 16; ++i) sixteen.push_back(std::to_string(i));
  CHECK(rb::SplitPartitions(rb::JoinPartitions(sixteen)).ok());
  sixteen.push_back("16");
  CHECK_FALSE(rb::SplitPartitions(rb::JoinPartitions(sixteen)).ok());
  for (const char* bad : {"", ",", "1,", ",1", "1,,2", "1,1", "a", "-1", "1 ", " 1",
                          "12345678901", "1;2", "1,2,1"}) {
    INFO(bad);
    auto r = rb::SplitPartitions(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().IsInvalidArgument());
  }
  std::string answer;
  rb::AppendEntry(200, "abc", &answer);
  rb::AppendEntry(507, "", &answer);
  CHECK(answer == "200 3\nabc507 0\n");
  auto entries = rb::ParseAnswer(answer, 2);
  REQUIRE(entries.ok());
  CHECK((*entries)[0].status == 200);
  CHECK((*entries)[0].body == "abc");
  CHECK((*entries)[1].status == 507);
  CHECK((*entries)[1].body.empty());
  CHECK_FALSE(rb::ParseAnswer(answer, 1).ok());  // bytes left over
  CHECK_FALSE(rb::ParseAnswer(answer, 3).ok());  // an entry missing
}
