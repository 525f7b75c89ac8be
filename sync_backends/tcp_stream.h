// TcpStream: a buffered TCP client connection as a ByteStream, with timeouts.
//
// The SSYNC sender writes its request while reading the response, each with its own
// deadline per operation (Swift's node_timeout for sends, http_timeout for waiting on
// the receiver's answers), so every blocking step is a poll() bounded by the current
// timeout. The read timeout bounds all the waiting for one answer (from our last send
// until another 64 KiB have arrived), so a peer dripping bytes cannot hold a job. A timeout is reported as Unavailable ("timed out ..."), a reset or close
// as IOError. Writes are buffered until Flush() or until the buffer is large.
// Not thread-safe: one thread uses a connection at a time.
#pragma once

#include <memory>
#include <string>

#include "sync_backends/byte_stream.h"

namespace replicant::sync {

class TcpStream : public ByteStream {
 public:
  // Resolves host (numeric or name) and connects within conn_timeout seconds.
  static Result<std::unique_ptr<TcpStream>> Connect(const std::string& host, int port,
                                                    double conn_timeout);
  ~TcpStream() override;
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;

  void set_read_timeout(double seconds) { read_timeout_ = seconds; }
  void set_write_timeout(double seconds) { write_timeout_ = seconds; }

  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view data) override;
  Status Flush() override;
  void Close();

 private:
  explicit TcpStream(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  Status WaitFor(short events, double timeout, const char* what);

  int fd_ = -1;
  std::string peer_;
  double read_timeout_ = 60, write_timeout_ = 60;
  static constexpr size_t kPacedBytes = 64 << 10;
  double read_waited_ = 0;  // seconds spent waiting since the last send or kPacedBytes
  size_t read_paced_ = 0;   // bytes received since then
  std::string rbuf_;
  size_t rpos_ = 0;
  std::string wbuf_;
};

}  // namespace replicant::sync
