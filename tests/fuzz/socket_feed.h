// SocketFeed: a connected AF_UNIX socket whose peer has already sent a fixed byte string
// and shut down its side, so code that reads a real socket (net::SocketStream uses
// recv and poll) can be fed an arbitrary input without threads. Reads never block:
// past the input they see an orderly end of stream. Not thread-safe.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace replicant::fuzz {

class SocketFeed {
 public:
  // The input must fit the socket buffer (raised here to 4 MiB; libFuzzer's -max_len
  // keeps inputs far below that).
  explicit SocketFeed(std::string_view input) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) Die("socketpair");
    int big = 4 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    while (!input.empty()) {
      ssize_t n = send(sv[1], input.data(), input.size(), MSG_NOSIGNAL);
      if (n <= 0) Die("send: input larger than the socket buffer");
      input.remove_prefix(static_cast<size_t>(n));
    }
    shutdown(sv[1], SHUT_WR);
    reader_ = sv[0];
    writer_ = sv[1];
  }
  ~SocketFeed() {
    if (reader_ >= 0) close(reader_);
    close(writer_);
  }
  SocketFeed(const SocketFeed&) = delete;
  SocketFeed& operator=(const SocketFeed&) = delete;

  // The reading end; the caller takes ownership (SocketStream closes it).
  int TakeReader() {
    int fd = reader_;
    reader_ = -1;
    return fd;
  }

 private:
  static void Die(const char* what) {
    std::perror(what);
    std::abort();
  }
  int reader_ = -1;
  int writer_ = -1;
};

}  // namespace replicant::fuzz
