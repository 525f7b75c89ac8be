#include "receiver/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "diskfile/fd.h"
#include "diskfile/fs_util.h"

namespace replicant::receiver {
namespace {

// After the grace period the sockets are shut; threads get this long to notice.
constexpr std::chrono::seconds kAbandonAfter{2};

constexpr const char* kMethodNotAllowed =
    "<html><h1>Method Not Allowed</h1><p>The method is not allowed for this resource.</p>"
    "</html>";

std::string PeerName(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    return fmt::format("{}:{}", host, port);
  }
  auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
  return fmt::format("[{}]:{}", host, ntohs(a->sin6_port));
}

// For log lines: client-controlled text cut short, with control bytes escaped.
std::string LogSafe(std::string_view s, size_t max = 200) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

Status RespondMethodNotAllowed(Exchange& ex) { return ex.Respond(405, kMethodNotAllowed); }

Server::Server(ServerConfig config, SwiftConf swift) : ctx_(std::move(config), std::move(swift)) {
  if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) wake_pipe_[0] = wake_pipe_[1] = -1;
}

Server::~Server() {
  {
    // Connection threads use this object until they end: an in-process owner (tests)
    // must not free it under a thread that Run() gave up on.
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return active_ == 0; });
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) close(fd);
  }
}

void Server::Register(const std::string& method, Handler handler) {
  handlers_[method] = std::move(handler);
}

void SyncDevicesAtStart(const std::string& devices) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> names;
  if (int err = diskfile::fs::ListDir(devices, &names); err != 0) {
    spdlog::warn("listdir {}: {}; devices not synced at start", devices, std::strerror(err));
    return;
  }
  for (const auto& name : names) {
    std::string path = devices + "/" + name;
    diskfile::UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || syncfs(fd.get()) != 0) {
      if (errno != ENOTDIR) spdlog::warn("syncfs {}: {}", path, std::strerror(errno));
    }
  }
  spdlog::info("Synced {} devices under {} before serving ({:.3f} s)", names.size(), devices,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

Status Server::Listen() {
  const ServerConfig& c = ctx_.config;
  std::string where = fmt::format("{}:{}", c.bind_ip, c.bind_port);
  if (wake_pipe_[0] < 0) return Status::FromErrno("pipe", errno);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(c.bind_port);
  int rc = getaddrinfo(c.bind_ip.empty() ? nullptr : c.bind_ip.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return Status::InvalidArgument(c.source + ": bind_ip " + c.bind_ip + ": " + gai_strerror(rc));
  }
  Status last = Status::IOError("no address to bind for " + where);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket for " + where, errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
      last = Status::FromErrno("cannot listen on " + where, errno);
      close(fd);
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                    : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    listen_fd_ = fd;
    break;
  }
  freeaddrinfo(res);
  return listen_fd_ >= 0 ? Status::OK() : last;
}

void Server::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    stopping_ = true;
    // Idle keep-alive connections have nothing to finish.
    for (auto& [id, c] : conns_) {
      if (!c.busy) c.sock->Shutdown();
    }
  }
  cv_.notify_all();
  char b = 1;
  if (wake_pipe_[1] >= 0 && write(wake_pipe_[1], &b, 1) < 0) {
    // The pipe is non-blocking and one byte is enough; a full pipe is already awake.
  }
}

bool Server::Run() {
  if (listen_fd_ < 0) return true;  // Listen() failed or was not called
  const int max_clients = ctx_.config.max_clients;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      // Beyond max_clients, new connections wait in the kernel's backlog.
      cv_.wait(l, [&] { return stopping_ || active_ < max_clients; });
      if (stopping_) break;
    }
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int rc = poll(p, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      spdlog::error("poll on the listening socket: {}", std::strerror(errno));
      break;
    }
    if (p[1].revents) continue;  // Stop(): the loop condition sees stopping_
    if (!(p[0].revents & POLLIN)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        spdlog::error("accept: {}; pausing 100 ms", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;  // ECONNABORTED, EINTR...: the next connection is unaffected
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::string peer = PeerName(ss);
    {
      std::lock_guard<std::mutex> l(mu_);
      ++active_;
    }
    try {
      std::thread([this, fd, peer] { ServeConnection(fd, peer); }).detach();
    } catch (const std::system_error& e) {
      spdlog::error("{}: cannot start a connection thread: {}", peer, e.what());
      close(fd);
      std::lock_guard<std::mutex> l(mu_);
      --active_;
    }
  }
  close(listen_fd_);
  listen_fd_ = -1;
  std::unique_lock<std::mutex> l(mu_);
  auto grace_end = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(ctx_.config.shutdown_grace));
  int busy = 0;
  for (const auto& [id, c] : conns_) busy += c.busy;
  if (busy > 0) spdlog::info("Waiting up to {:g}s for {} request(s) in flight", ctx_.config.shutdown_grace, busy);
  if (cv_.wait_until(l, grace_end, [&] { return active_ == 0; })) return true;
  spdlog::warn("Shutting down {} connection(s) still busy after {:g}s", active_,
               ctx_.config.shutdown_grace);
  for (auto& [id, c] : conns_) c.sock->Shutdown();
  // A thread blocked on its socket ends at once now; one busy elsewhere (hashing,
  // parsing, waiting for a lock) does not notice, and must not hold the exit forever.
  auto end = std::chrono::steady_clock::now() + kAbandonAfter;
  if (cv_.wait_until(l, end, [&] { return active_ == 0; })) return true;
  spdlog::error("{} connection(s) did not end within {}s of being shut down; giving up on "
                "them", active_, std::chrono::duration<double>(kAbandonAfter).count());
  return false;
}

bool Server::SetBusy(uint64_t id, bool busy) {
  std::lock_guard<std::mutex> l(mu_);
  conns_[id].busy = busy;
  return !stopping_;
}

void Server::ServeConnection(int fd, std::string peer) {
  {
    net::SocketStream sock(fd, ctx_.config.client_timeout);
    uint64_t id;
    {
      std::lock_guard<std::mutex> l(mu_);
      id = next_id_++;
      conns_[id] = Conn{&sock, false};
      if (stopping_) sock.Shutdown();
    }
    try {
      for (bool first = true;; first = false) {
        Next next = ServeOne(sock, peer, first, id);
        if (next == Next::kLinger) sock.LingeringClose(2.0, 1 << 20);
        if (next != Next::kKeepAlive || !SetBusy(id, false)) break;
      }
    } catch (const std::exception& e) {
      spdlog::error("{}: connection ended by an exception: {}", peer, e.what());
    }
    std::lock_guard<std::mutex> l(mu_);
    conns_.erase(id);
  }  // the socket closes here, before the server may be destroyed
  std::lock_guard<std::mutex> l(mu_);
  --active_;
  cv_.notify_all();
}

Server::Next Server::ServeOne(net::SocketStream& s, const std::string& peer, bool first,
                              uint64_t id) {
  const double timeout = ctx_.config.client_timeout;
  const uint64_t bytes_before = s.bytes_received();
  net::HeadResult head = net::ReadRequestHead(s, limits_, timeout, timeout);
  auto start = std::chrono::steady_clock::now();
  using Kind = net::HeadResult::Kind;
  switch (head.kind) {
    case Kind::kRequest:
      break;
    case Kind::kClosed:
      return Next::kClose;
    case Kind::kIdleTimeout:
      if (first) spdlog::info("{}: no request within {:g}s; closing", peer, timeout);
      return Next::kClose;
    case Kind::kIoError:
      spdlog::warn("{}: {}; closing", peer, LogSafe(head.error.message, 1000));
      return Next::kClose;
    case Kind::kBad: {
      spdlog::warn("{}: bad request ({} {}): {}; closing", peer, head.error.status,
                   net::ReasonPhrase(head.error.status), LogSafe(head.error.message, 1000));
      ctx_.metrics.AddBytes(s.bytes_received() - bytes_before);
      std::string body = head.error.message + "\n";
      s.Write(net::ResponseHead(head.error.status,
                           {{"Content-Type", "text/plain"},
                            {"Content-Length", std::to_string(body.size())},
                            {"Connection", "close"}}) + body);
      return Next::kLinger;  // the rest of its head may still be on the way
    }
  }
  if (!SetBusy(id, true)) {
    // Stopping: answer nothing new; the client retries elsewhere or later.
    return Next::kClose;
  }
  net::HttpRequest& req = head.request;
  req.peer = peer;
  ctx_.metrics.RequestStarted();
  Exchange ex(s, req, ctx_);
  Status result;
  auto it = handlers_.find(req.method);
  if (!CheckUtf8(req.path)) {
    // Swift's object server checks this before anything else.
    result = ex.Respond(412, "Invalid UTF8 or contains NULL");
  } else if (it == handlers_.end()) {
    result = RespondMethodNotAllowed(ex);
  } else {
    try {
      result = it->second(ex);
    } catch (const std::exception& e) {
      result = Status::IOError(std::string("handler exception: ") + e.what());
    }
    if (ex.mode() == Exchange::Mode::kNone) {
      (void)ex.Respond(500, "<html><h1>Internal Error</h1><p>" + result.message() + "</p></html>");
      if (result.ok()) result = Status::IOError("handler sent no response");
    }
  }
  bool keep = ex.Finish();
  ctx_.metrics.RequestFinished(req.method, ex.status(), s.bytes_received() - bytes_before);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string note = ex.note().empty() ? "" : " (" + LogSafe(ex.note(), 1000) + ")";
  // One line per request; a failure is told on the same line.
  if (result.ok()) {
    spdlog::info("{} {} {} {:.4f}s {}{}", req.method, LogSafe(req.target), ex.status(), secs,
                 peer, note);
  } else {
    spdlog::error("{} {} {} {:.4f}s {}{}: {}", req.method, LogSafe(req.target), ex.status(), secs,
                  peer, note, LogSafe(result.message(), 1000));
  }
  if (keep) return Next::kKeepAlive;
  // An answer sent while the client may still be sending (a refused SSYNC, a native
  // session ended early): closing with unread input sends a reset, which can reach
  // the client before it reads the answer. Let it read it.
  return ex.write_failed() ? Next::kClose : Next::kLinger;
}

}  // namespace replicant::receiver
