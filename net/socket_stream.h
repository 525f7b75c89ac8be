// SocketStream: one TCP connection as a buffered ByteStream whose every wait is bounded.
//
// Both ends of the replication protocols use it. A sender (SSYNC, native) opens one with
// Connect(): its writes are buffered until Flush() (or 64 KiB) and always go out before
// it waits for an answer. The server wraps each accepted socket: its writes go out at
// once. Each read waits at most the read timeout (Swift's client_timeout on the server,
// http_timeout in a sender) and, while a deadline is set, no longer than that in total
// (the request head, so a client trickling bytes cannot hold a thread). Paced, as
// Swift's MessageTimeout around each network chunk, the read timeout bounds all the
// waiting for each 64 KiB the peer sends, the count starting afresh after each of our
// writes: a peer that drips a byte just within each read's timeout cannot hold a job
// or a session and its locks. Client connections are always paced; on the server only
// the hijacked REPCONN stream is (the SSYNC body paces object bodies itself, since its
// lines may come as slowly as the sender walks its disk). Timeouts come back as
// Unavailable, resets and early ends as IOError, with text saying which.
// Not thread-safe: one thread uses a stream at a time (Shutdown() excepted).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/byte_stream.h"

namespace replicant::net {

using Clock = std::chrono::steady_clock;

class SocketStream : public ByteStream {
 public:
  // Client: resolves host (numeric or name) and connects within conn_timeout seconds.
  static Result<std::unique_ptr<SocketStream>> Connect(const std::string& host, int port,
                                                       double conn_timeout);
  // Server: takes ownership of an accepted fd (closed by the destructor); reads and
  // writes each wait at most timeout_seconds.
  SocketStream(int fd, double timeout_seconds);
  ~SocketStream() override;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view data) override;
  Status Flush() override;
  void Close();

  // ByteStream::ReadLine, searching the buffer rather than reading byte by byte.
  Result<std::string> ReadLine(size_t max_len) override;
  // Waits until a byte is readable: true, or an error or a timeout status after
  // `seconds`.
  Result<bool> WaitReadable(double seconds);
  // Whether the peer has neither sent anything nor closed: a connection made ahead of
  // its first request (and idle since) can still carry one.
  bool Quiet() const;

  void set_read_timeout(double seconds) { read_timeout_ = seconds; }
  void set_write_timeout(double seconds) { write_timeout_ = seconds; }
  void set_deadline(std::optional<Clock::time_point> d) { deadline_ = d; }
  void set_paced(bool on) {
    paced_ = on;
    piece_left_ = 0;
  }
  size_t buffered() const { return end_ - pos_; }
  // Bytes received on this socket so far (for the server's metrics).
  uint64_t bytes_received() const { return received_; }
  int fd() const { return fd_; }
  // Stops both directions so a thread blocked on this socket returns (shutdown(2)).
  void Shutdown();
  // Ends our side, then reads and drops what the client still sends (up to `seconds`
  // and max_bytes) so that closing with unread input does not reset the connection
  // and destroy the response it has not read yet.
  void LingeringClose(double seconds, size_t max_bytes);

 private:
  // The client names its peer in errors; the server's texts are its log's.
  enum class Role { kClient, kServer };
  SocketStream(int fd, Role role, std::string peer, double timeout_seconds);

  // Milliseconds to wait now, or -1 when the deadline (or the paced budget) has passed.
  int WaitMs() const;
  Status Fill();
  Status SendAll(std::string_view data);
  Status ReadTimedOut() const;
  Status WriteTimedOut() const;
  Status Failed(bool writing, int err) const;

  int fd_;
  Role role_;
  std::string peer_;  // "host:port" (client)
  double read_timeout_, write_timeout_;
  std::optional<Clock::time_point> deadline_;
  bool paced_ = false;
  size_t piece_left_ = 0;     // bytes still to come in the current 64 KiB piece
  double piece_waited_ = 0;   // seconds spent waiting for it (of read_timeout_)
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  uint64_t received_ = 0;
  std::string wbuf_;  // client writes not yet sent
};

}  // namespace replicant::net
