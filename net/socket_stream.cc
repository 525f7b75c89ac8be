#include "net/socket_stream.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "base/text.h"

namespace replicant::net {
namespace {

constexpr size_t kBufSize = 64 * 1024;  // read buffer, write buffer and paced piece

// poll()'s timeout for `seconds`: at least 1 ms when positive, never overflowing.
int PollMs(double seconds) {
  if (seconds <= 0) return 0;
  return static_cast<int>(std::min(std::ceil(std::max(seconds * 1000.0, 1.0)), 2e9));
}

// poll() for one fd, restarted after a signal: >0 ready, 0 timed out, <0 error.
int PollOne(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = poll(&p, 1, ms);
  } while (n < 0 && errno == EINTR);
  return n;
}

// Connects fd to ai within `seconds`; OK or why not.
Status ConnectOne(int fd, const addrinfo* ai, const std::string& peer, double seconds,
                  double conn_timeout) {
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
    return Status::FromErrno("connect " + peer, errno);
  }
  int n = PollOne(fd, POLLOUT, PollMs(seconds));
  if (n == 0) {
    return Status::Unavailable("connect " + peer + ": timed out after " + SecondsText(conn_timeout));
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    return Status::FromErrno("connect " + peer, n < 0 ? errno : err);
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<SocketStream>> SocketStream::Connect(const std::string& host, int port,
                                                            double conn_timeout) {
  std::string peer = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return Status::IOError("resolve " + peer + ": " + gai_strerror(rc));
  Status last = Status::IOError("connect " + peer + ": no address");
  auto deadline = Clock::now() + std::chrono::duration<double>(conn_timeout);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket", errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    last = ConnectOne(fd, ai, peer, left, conn_timeout);
    if (!last.ok()) {
      close(fd);
      continue;
    }
    freeaddrinfo(res);
    // Sender defaults until the caller sets its own: 60 s, paced, writes buffered.
    auto s = std::unique_ptr<SocketStream>(new SocketStream(fd, Role::kClient, peer, 60));
    s->paced_ = true;
    return s;
  }
  freeaddrinfo(res);
  return last;
}

SocketStream::SocketStream(int fd, double timeout_seconds)
    : SocketStream(fd, Role::kServer, "", timeout_seconds) {}

SocketStream::SocketStream(int fd, Role role, std::string peer, double timeout_seconds)
    : fd_(fd),
      role_(role),
      peer_(std::move(peer)),
      read_timeout_(timeout_seconds),
      write_timeout_(timeout_seconds),
      buf_(kBufSize, '\0') {}

SocketStream::~SocketStream() { Close(); }

void SocketStream::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void SocketStream::Shutdown() { shutdown(fd_, SHUT_RDWR); }

void SocketStream::LingeringClose(double seconds, size_t max_bytes) {
  shutdown(fd_, SHUT_WR);
  auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(seconds));
  size_t total = 0;
  while (total < max_bytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) break;
    if (PollOne(fd_, POLLIN, static_cast<int>(left.count())) <= 0) break;
    ssize_t got = recv(fd_, buf_.data(), buf_.size(), 0);
    if (got <= 0) break;
    total += static_cast<size_t>(got);
  }
  pos_ = end_ = 0;
}

int SocketStream::WaitMs() const {
  double seconds = read_timeout_;
  if (deadline_) {
    double left = std::chrono::duration<double>(*deadline_ - Clock::now()).count();
    if (left <= 0) return -1;
    seconds = std::min(seconds, left);
  }
  if (paced_) {
    double budget = read_timeout_ - piece_waited_;
    if (budget <= 0) return -1;
    seconds = std::min(seconds, budget);
  }
  return std::max(PollMs(seconds), 1);
}

Status SocketStream::ReadTimedOut() const {
  if (role_ == Role::kClient) {
    return Status::Unavailable("read from " + peer_ + ": timed out after " +
                               SecondsText(read_timeout_));
  }
  if (deadline_ && Clock::now() >= *deadline_) {
    return Status::Unavailable("request head not received in time");
  }
  if (paced_ && piece_waited_ >= read_timeout_) {
    return Status::Unavailable(
        fmt::format("client timeout ({:g}s for {} KiB)", read_timeout_, kBufSize / 1024));
  }
  return Status::Unavailable(fmt::format("client timeout ({:g}s without data)", read_timeout_));
}

Status SocketStream::WriteTimedOut() const {
  if (role_ == Role::kClient) {
    return Status::Unavailable("write to " + peer_ + ": timed out after " +
                               SecondsText(write_timeout_));
  }
  return Status::Unavailable(
      fmt::format("client timeout ({:g}s without reading the response)", write_timeout_));
}

Status SocketStream::Failed(bool writing, int err) const {
  if (role_ == Role::kClient) {
    return Status::FromErrno((writing ? "write to " : "read from ") + peer_, err);
  }
  return Status::FromErrno(writing ? "send" : "recv", err);
}

Result<bool> SocketStream::WaitReadable(double seconds) {
  if (buffered() > 0) return true;
  int rc = PollOne(fd_, POLLIN, PollMs(seconds));
  if (rc < 0) return Status::FromErrno("poll", errno);
  if (rc == 0) return Status::Unavailable(fmt::format("idle for {:g}s", seconds));
  return true;
}

bool SocketStream::Quiet() const {
  if (buffered() > 0) return false;
  return PollOne(fd_, POLLIN | POLLRDHUP, 0) == 0;
}

Status SocketStream::Fill() {
  // Whatever we still owe the peer must go out before we wait for its answer.
  if (auto s = Flush(); !s.ok()) return s;
  if (paced_ && piece_left_ == 0) {
    piece_left_ = kBufSize;
    piece_waited_ = 0;
  }
  for (;;) {
    int ms = WaitMs();
    if (ms < 0) return ReadTimedOut();
    // Bytes already queued are taken without a poll: one syscall per buffer, not two.
    ssize_t got = recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Failed(false, errno);
      pollfd p{fd_, POLLIN, 0};
      auto waited_from = Clock::now();
      int rc = poll(&p, 1, ms);
      // Only time spent waiting for the peer counts, not our own work between reads.
      if (paced_) {
        piece_waited_ += std::chrono::duration<double>(Clock::now() - waited_from).count();
      }
      if (rc < 0 && errno != EINTR) return Failed(false, errno);
      if (rc == 0) return ReadTimedOut();
      continue;
    }
    pos_ = 0;
    end_ = static_cast<size_t>(got);
    received_ += end_;
    if (paced_) piece_left_ -= std::min(piece_left_, end_);
    return Status::OK();
  }
}

Result<size_t> SocketStream::Read(char* buf, size_t n) {
  if (fd_ < 0) return Status::IOError("read from closed connection to " + peer_);
  if (n == 0) return size_t{0};
  if (pos_ == end_) {
    if (auto st = Fill(); !st.ok()) return st;
    if (end_ == 0) return size_t{0};  // orderly end of stream
  }
  size_t k = std::min(n, end_ - pos_);
  std::memcpy(buf, buf_.data() + pos_, k);
  pos_ += k;
  return k;
}

Result<std::string> SocketStream::ReadLine(size_t max_len) {
  std::string line;
  for (;;) {
    if (pos_ == end_) {
      if (auto st = Fill(); !st.ok()) return st;
      if (end_ == 0) {
        if (line.empty()) return Status::NotFound("end of stream");
        return Status::IOError("early end of stream inside a line");
      }
    }
    const char* start = buf_.data() + pos_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
    size_t take = nl ? static_cast<size_t>(nl - start) : end_ - pos_;
    if (line.size() + take > max_len) {
      return Status::InvalidArgument(fmt::format("line longer than {} bytes", max_len));
    }
    line.append(start, take);
    pos_ += take;
    if (nl) {
      ++pos_;
      return line;
    }
  }
}

Status SocketStream::Write(std::string_view data) {
  if (fd_ < 0) return Status::IOError("write to closed connection to " + peer_);
  if (role_ == Role::kServer) return SendAll(data);
  wbuf_.append(data);
  return wbuf_.size() >= kBufSize ? Flush() : Status::OK();
}

Status SocketStream::Flush() {
  if (wbuf_.empty()) return Status::OK();
  Status s = SendAll(wbuf_);
  wbuf_.clear();
  return s;
}

Status SocketStream::SendAll(std::string_view data) {
  piece_left_ = 0;  // what we send ends the peer's message: its answer starts afresh
  while (!data.empty()) {
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return Failed(true, errno);
    int rc = PollOne(fd_, POLLOUT, PollMs(write_timeout_));
    if (rc < 0) return Failed(true, errno);
    if (rc == 0) return WriteTimedOut();
  }
  return Status::OK();
}

}  // namespace replicant::net
