// delay_relay: the bench's round-trip-time emulation (this kernel has no sch_netem). A TCP
// relay that forwards each byte no earlier than a fixed one-way delay after it read it, in
// both directions, so a connection through it sees RTT = 2 x delay; optionally each listen
// pair's direction is a link of a given bandwidth, shared by its connections. A new
// connection costs what TCP's handshake costs on such a link: the relay connects to the
// target 1.5 RTT after it accepted (SYN, SYN-ACK, ACK), so the server sees the client's
// first bytes 1.5 RTT after connect() began and the client sees a server's greeting
// after 2 RTT, as on a real link. Order is kept per direction; half-close (FIN) and reset
// (RST) are forwarded with the same delay.
//
// One thread, one epoll loop, a timerfd for the next due chunk (no busy waiting, sub-ms
// precision). Memory is bounded: a direction stops reading when its queue holds more than
// --max-queue-kb (TCP's own flow control then holds the sender back).
//
//   delay_relay --delay-ms D [--rate-mbit R] [--max-queue-kb K]
//               --listen HOST:PORT --to HOST:PORT [--listen ... --to ...]
//
// PORT 0 in --listen picks a free port. Prints "listen HOST:PORT -> HOST:PORT" per pair
// and then "ready" on stdout once every listener is bound; runs until killed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kReadSize = 256 * 1024;

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

sockaddr_in ParseAddr(const std::string& s) {
  auto colon = s.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  char* end = nullptr;
  long port = colon == std::string::npos ? -1 : std::strtol(s.c_str() + colon + 1, &end, 10);
  if (port < 0 || port > 65535 || *end != '\0' ||
      inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    throw std::runtime_error("bad address (want IPv4 HOST:PORT): " + s);
  }
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

std::string AddrText(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

// A link direction of a listen pair: its bandwidth is shared by the pair's connections.
struct Link {
  int64_t busy_until_ns = 0;
};

struct Pair {
  int listen_fd = -1;
  sockaddr_in to{};
  Link up, down;  // client->server, server->client
};

struct Chunk {
  enum Kind { kData, kEof, kReset } kind = kData;
  int64_t due_ns = 0;
  std::string data;
  size_t off = 0;
};

// One direction of a connection: bytes read from `from` wait in `q` until due, then go
// to `to`.
struct Dir {
  int from = -1, to = -1;
  Link* link = nullptr;
  std::deque<Chunk> q;
  size_t queued = 0;
  bool read_done = false;  // EOF or error read from `from`
  bool shut = false;       // EOF forwarded to `to`
  bool blocked = false;    // `to` would block: waiting for EPOLLOUT
};

struct Conn {
  uint64_t id = 0;
  int client = -1, server = -1;
  sockaddr_in to{};
  bool connected = false;  // to the target (after the handshake's delay)
  uint32_t client_ev = 0, server_ev = 0;  // epoll interest (0: not in the set)
  Dir c2s, s2c;
};

// What an epoll event refers to, in its u64: (id << 2) | kind; id is the pair's index
// for a listener, the connection's id otherwise (looked up, so a stale event of a
// connection closed earlier in the same batch finds nothing).
enum Kind : uint64_t { kListen = 0, kClient = 1, kServer = 2, kTimer = 3 };
uint64_t Tag(Kind k, uint64_t id) { return (id << 2) | k; }

struct Due {
  int64_t at;
  uint64_t conn;
  int what;  // 0: c2s, 1: s2c, 2: connect to the target
  bool operator>(const Due& o) const { return at > o.at; }
};

struct Options {
  double delay_ms = -1, rate_mbit = 0;
  size_t max_queue = 4u << 20;
  std::vector<std::pair<std::string, std::string>> pairs;
};

class Relay {
 public:
  explicit Relay(const Options& o)
      : delay_ns_(std::llround(o.delay_ms * 1e6)),
        ns_per_byte_(o.rate_mbit > 0 ? 8000.0 / o.rate_mbit : 0),
        max_queue_(o.max_queue) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep_ < 0 || timer_ < 0) Fail("epoll/timerfd");
    Watch(timer_, Tag(kTimer, 0), EPOLLIN, false);
    for (auto& [from, to] : o.pairs) Listen(from, to);
  }

  void Run() {
    std::vector<epoll_event> evs(256);
    for (;;) {
      int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Fail("epoll_wait");
      for (int i = 0; i < n; ++i) Dispatch(evs[i].data.u64, evs[i].events);
      RunDue();
    }
  }

 private:
  void Listen(const std::string& from, const std::string& to) {
    auto p = std::make_unique<Pair>();
    sockaddr_in a = ParseAddr(from);
    p->to = ParseAddr(to);
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(p->listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Fail("bind " + from);
    if (listen(p->listen_fd, 1024) != 0) Fail("listen " + from);
    socklen_t len = sizeof a;
    getsockname(p->listen_fd, reinterpret_cast<sockaddr*>(&a), &len);
    std::printf("listen %s -> %s\n", AddrText(a).c_str(), AddrText(p->to).c_str());
    Watch(p->listen_fd, Tag(kListen, pairs_.size()), EPOLLIN, false);
    pairs_.push_back(std::move(p));
  }

  void Watch(int fd, uint64_t tag, uint32_t events, bool mod) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (epoll_ctl(ep_, mod ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) Fail("epoll_ctl");
  }

  void Dispatch(uint64_t tag, uint32_t events) {
    auto kind = static_cast<Kind>(tag & 3);
    if (kind == kTimer) {
      uint64_t expirations;
      while (read(timer_, &expirations, sizeof expirations) > 0) {
      }
      return;
    }
    if (kind == kListen) return Accept(pairs_[tag >> 2].get());
    auto it = conns_.find(tag >> 2);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    bool is_client = kind == kClient;
    if (!is_client && !c.connected) return FinishConnect(c);
    Dir& out = is_client ? c.c2s : c.s2c;  // reads from this fd
    Dir& in = is_client ? c.s2c : c.c2s;   // writes to this fd
    // a hang-up or error comes with EPOLLOUT for a TCP socket; the send then fails
    if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && in.blocked) {
      in.blocked = false;
      if (!Flush(c, in)) return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      if (!ReadSide(c, out)) return;
    }
    UpdateInterest(c);
  }

  void Accept(Pair* p) {
    for (;;) {
      int fd = accept4(p->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a connection already gone
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->id = ++last_id_;
      c->client = fd;
      c->server = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->server < 0) {
        close(fd);
        return;
      }
      setsockopt(c->server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      c->to = p->to;
      c->c2s.from = c->s2c.to = c->client;
      c->c2s.to = c->s2c.from = c->server;
      c->c2s.link = &p->up;
      c->s2c.link = &p->down;
      SetInterest(*c, true, EPOLLIN);
      // SYN, SYN-ACK, then the ACK with the first bytes: 1.5 RTT = 3 one-way delays
      Schedule(NowNs() + 3 * delay_ns_, c->id, 2);
      conns_[c->id] = std::move(c);
    }
  }

  void StartConnect(Conn& c) {
    int rc = connect(c.server, reinterpret_cast<const sockaddr*>(&c.to), sizeof c.to);
    if (rc != 0 && errno != EINPROGRESS) return Abort(c);
    SetInterest(c, false, EPOLLOUT);  // writable: connected (or failed: SO_ERROR)
  }

  void FinishConnect(Conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.server, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Abort(c);
    c.connected = true;
    if (!Flush(c, c.c2s)) return;
    UpdateInterest(c);
  }

  // Reads what `d.from` has (up to the queue's bound) into timed chunks; a chunk already
  // due with nothing queued before it goes straight out (0 ms: no copy, no queue). False
  // when the connection is gone.
  bool ReadSide(Conn& c, Dir& d) {
    while (!d.read_done && d.queued < max_queue_) {
      ssize_t n = recv(d.from, buf_.data(), buf_.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      int64_t now = NowNs();
      Chunk ch;
      if (n <= 0) {
        d.read_done = true;
        ch.kind = n == 0 ? Chunk::kEof : Chunk::kReset;
        ch.due_ns = now + delay_ns_;
      } else {
        ch.due_ns = Depart(*d.link, now, static_cast<size_t>(n)) + delay_ns_;
        size_t sent = 0;
        if (d.q.empty() && ch.due_ns <= now && c.connected && !d.blocked) {
          ssize_t w = send(d.to, buf_.data(), static_cast<size_t>(n), MSG_NOSIGNAL);
          if (w < 0 && errno != EAGAIN && errno != EINTR) return Abort(c), false;
          sent = w > 0 ? static_cast<size_t>(w) : 0;
          if (sent == static_cast<size_t>(n)) continue;
          d.blocked = true;
        }
        ch.data.assign(buf_.data() + sent, static_cast<size_t>(n) - sent);
        d.queued += ch.data.size();
      }
      d.q.push_back(std::move(ch));
      if (d.q.size() == 1 && !Flush(c, d)) return false;
    }
    return true;
  }

  // When a chunk of n bytes read at `now` has left the link (its bandwidth, if capped).
  int64_t Depart(Link& l, int64_t now, size_t n) const {
    if (ns_per_byte_ <= 0) return now;
    int64_t start = std::max(now, l.busy_until_ns);
    l.busy_until_ns = start + std::llround(ns_per_byte_ * static_cast<double>(n));
    return l.busy_until_ns;
  }

  // Forwards d's due chunks; schedules the next one. False when the connection is gone.
  bool Flush(Conn& c, Dir& d) {
    if (!c.connected || d.blocked) return true;
    int64_t now = NowNs();
    while (!d.q.empty() && d.q.front().due_ns <= now) {
      Chunk& ch = d.q.front();
      if (ch.kind == Chunk::kReset) return Abort(c), false;
      if (ch.kind == Chunk::kEof) {
        shutdown(d.to, SHUT_WR);
        d.shut = true;
        d.q.pop_front();
        if (c.c2s.shut && c.s2c.shut) return Close(c), false;
        continue;
      }
      ssize_t n = send(d.to, ch.data.data() + ch.off, ch.data.size() - ch.off, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        d.blocked = true;
        return true;
      }
      if (n < 0) return Abort(c), false;
      ch.off += static_cast<size_t>(n);
      d.queued -= static_cast<size_t>(n);
      if (ch.off < ch.data.size()) {
        d.blocked = true;
        return true;
      }
      d.q.pop_front();
    }
    if (!d.q.empty()) Schedule(d.q.front().due_ns, c.id, &d == &c.c2s ? 0 : 1);
    return true;
  }

  void Schedule(int64_t at, uint64_t conn, int what) {
    due_.push(Due{at, conn, what});
    if (armed_at_ == 0 || at < armed_at_) Arm(at);
  }

  void Arm(int64_t at) {
    itimerspec its{};
    its.it_value.tv_sec = at / 1000000000;
    its.it_value.tv_nsec = at % 1000000000;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &its, nullptr);
    armed_at_ = at;
  }

  void RunDue() {
    int64_t now = NowNs();
    while (!due_.empty() && due_.top().at <= now) {
      Due d = due_.top();
      due_.pop();
      auto it = conns_.find(d.conn);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
      if (d.what == 2) {
        StartConnect(c);
        continue;
      }
      if (Flush(c, d.what == 0 ? c.c2s : c.s2c)) UpdateInterest(c);
      now = NowNs();
    }
    armed_at_ = 0;
    if (!due_.empty()) Arm(due_.top().at);
  }

  // Level-triggered interest: read a side while its queue has room and it has not ended,
  // wait for writability while a write to it would block. An fd with nothing to wait for
  // leaves the epoll set, so a hang-up on it cannot spin the loop.
  void UpdateInterest(Conn& c) {
    auto want = [&](const Dir& out, const Dir& in) {
      uint32_t ev = 0;
      if (!out.read_done && out.queued < max_queue_) ev |= EPOLLIN;
      if (in.blocked) ev |= EPOLLOUT;
      return ev;
    };
    SetInterest(c, true, want(c.c2s, c.s2c));
    if (c.connected) SetInterest(c, false, want(c.s2c, c.c2s));
  }

  void SetInterest(Conn& c, bool client, uint32_t ev) {
    uint32_t& cur = client ? c.client_ev : c.server_ev;
    int fd = client ? c.client : c.server;
    if (cur == ev) return;
    if (ev == 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    } else {
      Watch(fd, Tag(client ? kClient : kServer, c.id), ev, cur != 0);
    }
    cur = ev;
  }

  // A reset (or a failed connect or write): RST to both sides.
  void Abort(Conn& c) {
    linger l{1, 0};
    setsockopt(c.client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    setsockopt(c.server, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    Close(c);
  }

  void Close(Conn& c) {
    close(c.client);  // also leaves the epoll set
    close(c.server);
    conns_.erase(c.id);  // c is gone
  }

  int64_t delay_ns_;
  double ns_per_byte_;
  size_t max_queue_;
  int ep_ = -1, timer_ = -1;
  int64_t armed_at_ = 0;
  uint64_t last_id_ = 0;
  std::vector<char> buf_ = std::vector<char>(kReadSize);
  std::vector<std::unique_ptr<Pair>> pairs_;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
};

double ParseNumber(const char* flag, const char* v) {
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !std::isfinite(d) || d < 0) {
    throw std::runtime_error(std::string(flag) + ": not a non-negative number: " + v);
  }
  return d;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  std::string listen;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
    const char* v = argv[++i];
    if (a == "--delay-ms") {
      o.delay_ms = ParseNumber("--delay-ms", v);
    } else if (a == "--rate-mbit") {
      o.rate_mbit = ParseNumber("--rate-mbit", v);
    } else if (a == "--max-queue-kb") {
      o.max_queue = static_cast<size_t>(ParseNumber("--max-queue-kb", v) * 1024);
    } else if (a == "--listen") {
      if (!listen.empty()) throw std::runtime_error("--listen " + listen + " without --to");
      listen = v;
    } else if (a == "--to") {
      if (listen.empty()) throw std::runtime_error("--to without --listen");
      o.pairs.emplace_back(listen, v);
      listen.clear();
    } else {
      throw std::runtime_error("unknown option " + a);
    }
  }
  if (!listen.empty()) throw std::runtime_error("--listen " + listen + " without --to");
  if (o.delay_ms < 0 || o.pairs.empty()) {
    throw std::runtime_error("need --delay-ms and at least one --listen/--to pair");
  }
  if (o.max_queue < kReadSize) o.max_queue = kReadSize;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    signal(SIGPIPE, SIG_IGN);
    Relay relay(ParseArgs(argc, argv));
    std::printf("ready\n");
    std::fflush(stdout);
    relay.Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "delay_relay: %s\n", e.what());
    std::fprintf(stderr,
                 "usage: delay_relay --delay-ms D [--rate-mbit R] [--max-queue-kb K] "
                 "--listen HOST:PORT --to HOST:PORT [--listen ... --to ...]\n");
    return 2;
  }
}
