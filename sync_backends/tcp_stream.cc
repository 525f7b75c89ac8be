#include "sync_backends/tcp_stream.h"
#include "diskfile/replication_lock.h"

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


namespace replicant::sync {
namespace {

constexpr size_t kReadBuffer = 65536;
constexpr size_t kWriteBuffer = 65536;

int PollMs(double seconds) {
  if (seconds <= 0) return 0;
  double ms = seconds * 1000.0;
  return ms > 2e9 ? 2000000000 : static_cast<int>(ms + 0.999);
}

}  // namespace

Result<std::unique_ptr<TcpStream>> TcpStream::Connect(const std::string& host, int port,
                                                      double conn_timeout) {
  std::string peer = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return Status::IOError("resolve " + peer + ": " + gai_strerror(rc));
  Status last = Status::IOError("connect " + peer + ": no address");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(conn_timeout);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket", errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = Status::FromErrno("connect " + peer, errno);
      close(fd);
      continue;
    }
    double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLOUT, 0};
    int n;
    do {
      n = poll(&p, 1, PollMs(left));
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      last = Status::Unavailable("connect " + peer + ": timed out after " + diskfile::SecondsText(conn_timeout));
      close(fd);
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      last = Status::FromErrno("connect " + peer, n < 0 ? errno : err);
      close(fd);
      continue;
    }
    freeaddrinfo(res);
    return std::unique_ptr<TcpStream>(new TcpStream(fd, peer));
  }
  freeaddrinfo(res);
  return last;
}

TcpStream::~TcpStream() { Close(); }

void TcpStream::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status TcpStream::WaitFor(short events, double timeout, const char* what) {
  pollfd p{fd_, events, 0};
  int n;
  do {
    n = poll(&p, 1, PollMs(timeout));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno(std::string(what) + " " + peer_, errno);
  if (n == 0) {
    return Status::Unavailable(std::string(what) + " " + peer_ + ": timed out after " +
                               diskfile::SecondsText(timeout));
  }
  return Status::OK();
}

Result<size_t> TcpStream::Read(char* buf, size_t n) {
  if (fd_ < 0) return Status::IOError("read from closed connection to " + peer_);
  if (rpos_ == rbuf_.size()) {
    // Whatever we still owe the peer must go out before we wait for its answer.
    if (auto s = Flush(); !s.ok()) return s;
    rbuf_.resize(kReadBuffer);
    rpos_ = 0;
    for (;;) {
      ssize_t got = recv(fd_, rbuf_.data(), rbuf_.size(), 0);
      if (got >= 0) {
        rbuf_.resize(static_cast<size_t>(got));
        if (got == 0) return size_t{0};
        break;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        rbuf_.clear();
        return Status::FromErrno("read from " + peer_, errno);
      }
      // The read timeout bounds the waiting for each answer as a whole, not each
      // byte: a peer dripping a byte at a time never resets it (Swift bounds a whole
      // response head, or line, by one timeout too).
      double budget = read_timeout_ - read_waited_;
      auto start = std::chrono::steady_clock::now();
      Status s = budget > 0 ? WaitFor(POLLIN, budget, "read from")
                            : Status::Unavailable("read from " + peer_ + ": timed out after " +
                                                  diskfile::SecondsText(read_timeout_));
      read_waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!s.ok()) {
        rbuf_.clear();
        return s;
      }
    }
    // Every kPacedBytes received earn a fresh timeout, so a long, steady answer (a
    // signature, a large listing) is never cut.
    read_paced_ += rbuf_.size();
    if (read_paced_ >= kPacedBytes) read_paced_ = 0, read_waited_ = 0;
  }
  size_t k = std::min(n, rbuf_.size() - rpos_);
  std::memcpy(buf, rbuf_.data() + rpos_, k);
  rpos_ += k;
  return k;
}

Status TcpStream::Write(std::string_view data) {
  if (fd_ < 0) return Status::IOError("write to closed connection to " + peer_);
  wbuf_.append(data);
  if (wbuf_.size() >= kWriteBuffer) return Flush();
  return Status::OK();
}

Status TcpStream::Flush() {
  // Whatever we send next starts a new answer's timeout.
  if (!wbuf_.empty()) read_paced_ = 0, read_waited_ = 0;
  size_t off = 0;
  while (off < wbuf_.size()) {
    ssize_t n = send(fd_, wbuf_.data() + off, wbuf_.size() - off, MSG_NOSIGNAL);
    if (n >= 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      wbuf_.clear();
      return Status::FromErrno("write to " + peer_, errno);
    }
    if (auto s = WaitFor(POLLOUT, write_timeout_, "write to"); !s.ok()) {
      wbuf_.clear();
      return s;
    }
  }
  wbuf_.clear();
  return Status::OK();
}

}  // namespace replicant::sync
