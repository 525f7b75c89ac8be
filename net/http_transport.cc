#include "net/http_transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "net/http_response_parser.h"

namespace replicant::net {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds on what one thread keeps open: a worker surveys a window of partitions at
// once (replicate_window, default 16), so a peer may hold a connection per partition
// of the window (twice the default, so a wider window does not reconnect at every
// window); the total keeps fds bounded on big rings.
constexpr size_t kMaxIdlePerPeer = 32;
constexpr size_t kMaxIdleTotal = 128;

struct IdleConn {
  std::string ip;
  int port;
  int fd;
};

// The calling thread's idle keep-alive connections, most recently used last.
class ConnectionCache {
 public:
  ~ConnectionCache() { CloseAll(); }

  // A cached connection to (ip, port) that still looks open, or -1.
  int Take(const std::string& ip, int port) {
    for (size_t i = idle_.size(); i-- > 0;) {
      if (idle_[i].port != port || idle_[i].ip != ip) continue;
      int fd = idle_[i].fd;
      idle_.erase(idle_.begin() + static_cast<long>(i));
      if (StillOpen(fd)) return fd;
      close(fd);
    }
    return -1;
  }

  void Put(const std::string& ip, int port, int fd) {
    size_t same = 0;
    for (const auto& c : idle_) same += c.port == port && c.ip == ip;
    if (same >= kMaxIdlePerPeer || idle_.size() >= kMaxIdleTotal) {
      // Drop the least recently used one (of this peer when it is the one over).
      auto victim = idle_.begin();
      if (same >= kMaxIdlePerPeer) {
        victim = std::find_if(idle_.begin(), idle_.end(),
                              [&](const IdleConn& c) { return c.port == port && c.ip == ip; });
      }
      close(victim->fd);
      idle_.erase(victim);
    }
    idle_.push_back({ip, port, fd});
  }

  void CloseAll() {
    for (const auto& c : idle_) close(c.fd);
    idle_.clear();
  }

  HttpTransportCounters counters;

 private:
  // An idle connection has nothing to read. Readable means the server closed it (EOF)
  // or sent something unsolicited: either way it cannot carry a request.
  static bool StillOpen(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
  }

  std::vector<IdleConn> idle_;
};

ConnectionCache& Cache() {
  thread_local ConnectionCache cache;
  return cache;
}

int MsUntil(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count() + 1;
  return static_cast<int>(std::min<long long>(ms, 1 << 30));
}

Clock::time_point After(Clock::time_point t, double seconds) {
  return t + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Numeric addresses (what rings hold) without the resolver; names through it.
Status Resolve(const std::string& ip, int port, sockaddr_storage* addr, socklen_t* len) {
  std::memset(addr, 0, sizeof *addr);
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *v4;
    return Status::OK();
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *v6;
    return Status::OK();
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(ip.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || !res) return Status::Unavailable(std::string("resolve: ") + gai_strerror(rc));
  std::memcpy(addr, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return Status::OK();
}

enum class Phase { kConnecting, kSending, kReceiving, kDone };

// One exchange in flight.
struct Flight {
  HttpExchange* x = nullptr;
  Phase phase = Phase::kDone;
  int fd = -1;
  bool reused = false;   // fd came from the cache
  bool retried = false;  // the one retry is spent
  size_t sent = 0;
  Clock::time_point connect_deadline;
  Clock::time_point deadline;
  HttpResponseParser parser;

  explicit Flight(size_t max_body) : parser(HttpResponseParser::Limits{64 << 10, max_body}) {}
};

class ExchangeLoop {
 public:
  ExchangeLoop(const HttpTimeouts& t, size_t max_body) : t_(t), max_body_(max_body) {}

  // Starts every exchange (each one's deadline runs from here) and returns once every
  // request is sent: new connections are waited for, answers are not.
  void StartAll(std::vector<HttpExchange>& xs) {
    auto now = Clock::now();
    flights_.reserve(xs.size());  // Flights are never moved: Step() holds references
    for (auto& x : xs) {
      flights_.emplace_back(max_body_);
      Flight& f = flights_.back();
      f.x = &x;
      f.deadline = After(now, t_.request_timeout);
      Start(f, /*allow_cached=*/true);
    }
    Drive(/*until_sent=*/true);
  }

  // Drives every started exchange to completion or failure.
  void Finish() { Drive(/*until_sent=*/false); }

 private:
  void Drive(bool until_sent) {
    std::vector<pollfd> pfds;
    std::vector<Flight*> owners;
    for (;;) {
      pfds.clear();
      owners.clear();
      auto now = Clock::now();
      int wait_ms = -1;
      for (auto& f : flights_) {
        if (f.phase == Phase::kDone) continue;
        if (until_sent && f.phase == Phase::kReceiving) continue;
        Clock::time_point until = f.phase == Phase::kConnecting
                                      ? std::min(f.connect_deadline, f.deadline)
                                      : f.deadline;
        if (until <= now) {
          Fail(f, Status::Unavailable(f.phase == Phase::kConnecting
                                          ? fmt::format("connect timed out after {:g}s",
                                                        t_.conn_timeout)
                                          : fmt::format("timed out after {:g}s",
                                                        t_.request_timeout)));
          continue;
        }
        int ms = MsUntil(until, now);
        wait_ms = wait_ms < 0 ? ms : std::min(wait_ms, ms);
        short ev = f.phase == Phase::kReceiving ? POLLIN : POLLOUT;
        pfds.push_back({f.fd, ev, 0});
        owners.push_back(&f);
      }
      if (pfds.empty()) return;
      int n = poll(pfds.data(), pfds.size(), wait_ms);
      if (n < 0 && errno != EINTR) {
        Status s = Status::FromErrno("poll", errno);
        for (Flight* f : owners) Fail(*f, s);
        return;
      }
      for (size_t i = 0; n > 0 && i < pfds.size(); ++i) {
        if (pfds[i].revents) Step(*owners[i]);
      }
    }
  }

  void Start(Flight& f, bool allow_cached) {
    f.sent = 0;
    f.parser = HttpResponseParser(
        HttpResponseParser::Limits{64 << 10, f.x->max_body ? f.x->max_body : max_body_});
    f.reused = false;
    if (allow_cached) {
      f.fd = Cache().Take(f.x->ip, f.x->port);
      if (f.fd >= 0) {
        f.reused = true;
        Cache().counters.reuses++;
        f.phase = Phase::kSending;
        Step(f);
        return;
      }
    }
    sockaddr_storage addr;
    socklen_t len = 0;
    if (Status s = Resolve(f.x->ip, f.x->port, &addr, &len); !s.ok()) return Fail(f, s);
    f.fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f.fd < 0) return Fail(f, Status::FromErrno("socket", errno));
    // Requests are one small write each; never let Nagle hold one back.
    int one = 1;
    setsockopt(f.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Cache().counters.connects++;
    f.connect_deadline = After(Clock::now(), t_.conn_timeout);
    if (connect(f.fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
      f.phase = Phase::kSending;
      Step(f);
    } else if (errno == EINPROGRESS) {
      f.phase = Phase::kConnecting;
    } else {
      Fail(f, Status::FromErrno("connect", errno));
    }
  }

  // A reused connection that failed before any response byte was probably closed by
  // the server while idle: retry once, on a new connection.
  bool MaybeRetry(Flight& f) {
    if (!f.reused || f.retried || f.parser.started()) return false;
    f.retried = true;
    Cache().counters.retries++;
    close(f.fd);
    f.fd = -1;
    Start(f, /*allow_cached=*/false);
    return true;
  }

  void Fail(Flight& f, Status s) {
    if (f.fd >= 0) close(f.fd);
    f.fd = -1;
    f.phase = Phase::kDone;
    f.x->status = std::move(s);
  }

  void Finish(Flight& f, bool reusable) {
    f.x->status = Status::OK();
    f.x->http_status = f.parser.status();
    f.x->body = f.parser.TakeBody();
    if (reusable && f.parser.keep_alive()) Cache().Put(f.x->ip, f.x->port, f.fd);
    else close(f.fd);
    f.fd = -1;
    f.phase = Phase::kDone;
  }

  void Step(Flight& f) {
    if (f.phase == Phase::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(f.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == EINPROGRESS) return;
      if (err != 0) return Fail(f, Status::FromErrno("connect", err));
      f.phase = Phase::kSending;
    }
    if (f.phase == Phase::kSending) {
      const std::string& req = f.x->request;
      while (f.sent < req.size()) {
        ssize_t n = send(f.fd, req.data() + f.sent, req.size() - f.sent, MSG_NOSIGNAL);
        if (n > 0) { f.sent += static_cast<size_t>(n); continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // poll for POLLOUT
        int err = n < 0 ? errno : EPIPE;
        if (MaybeRetry(f)) return;
        return Fail(f, Status::FromErrno("send", err));
      }
      f.phase = Phase::kReceiving;
      return;  // the response cannot be there yet; poll for it
    }
    if (f.phase != Phase::kReceiving) return;
    char buf[65536];
    for (;;) {
      ssize_t n = recv(f.fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0) {
        int err = errno;
        if (MaybeRetry(f)) return;
        return Fail(f, Status::FromErrno("recv", err));
      }
      if (n == 0) {
        if (MaybeRetry(f)) return;
        Status s = f.parser.FinishOnEof();
        if (!s.ok()) return Fail(f, s.IsCorruption() && !f.parser.started()
                                        ? Status::Unavailable(s.message())
                                        : s);
        return Finish(f, /*reusable=*/false);
      }
      auto used = f.parser.Feed(std::string_view(buf, static_cast<size_t>(n)));
      if (!used.ok()) return Fail(f, used.status());
      if (f.parser.done()) {
        // Bytes after the response were never asked for: do not trust the connection.
        return Finish(f, *used == static_cast<size_t>(n));
      }
    }
  }

  HttpTimeouts t_;
  size_t max_body_;
  std::vector<Flight> flights_;
};

}  // namespace

void RunExchanges(std::vector<HttpExchange>& exchanges, const HttpTimeouts& timeouts,
                  size_t max_body) {
  ExchangeLoop loop(timeouts, max_body);
  loop.StartAll(exchanges);
  loop.Finish();
}

struct PendingExchanges::Loop : ExchangeLoop {
  using ExchangeLoop::ExchangeLoop;
};

PendingExchanges::PendingExchanges(std::vector<HttpExchange> exchanges,
                                   const HttpTimeouts& timeouts, size_t max_body)
    : exchanges_(std::move(exchanges)), loop_(std::make_unique<Loop>(timeouts, max_body)) {
  loop_->StartAll(exchanges_);
}

PendingExchanges::~PendingExchanges() { Wait(); }

std::vector<HttpExchange>& PendingExchanges::Wait() {
  if (!waited_) {
    waited_ = true;
    loop_->Finish();
  }
  return exchanges_;
}

HttpTransportCounters ThreadHttpCounters() { return Cache().counters; }
void ResetThreadHttpCounters() { Cache().counters = {}; }
void CloseThreadHttpConnections() { Cache().CloseAll(); }

}  // namespace replicant::net
