// HTTP byte streams for the replication server: a buffered socket with timeouts, and
// the body framings layered on it (Content-Length, chunked in, chunked out).
//
// SocketStream waits at most `timeout` seconds for each read or write to make progress
// (Swift's client_timeout) and, while a deadline is set, no longer than that in total
// (used for the request head, so a client trickling bytes cannot hold a thread).
// Paced (set_paced), as Swift's MessageTimeout around each network chunk, it also
// allows at most `timeout` seconds of waiting for each 64 KiB the client sends, the
// count starting afresh after each of our writes: a client that drips a byte just
// within each read's timeout cannot hold a replication session and its locks. Only
// the hijacked REPCONN stream is paced: the SSYNC body paces object bodies itself
// (ssync BodyReader), since its lines may come as slowly as the sender walks its disk.
// Timeouts, resets and early ends come back as Status values whose text says which.
// Every stream is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "sync_backends/byte_stream.h"

namespace replicant::receiver {

using Clock = std::chrono::steady_clock;

class SocketStream : public sync::ByteStream {
 public:
  // Takes ownership of fd (closed by the destructor).
  SocketStream(int fd, double timeout_seconds);
  ~SocketStream() override;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view data) override;

  // Reads a line ending in "\n" (a preceding "\r" is dropped) of at most max_len bytes.
  // NotFound on a clean end of stream before any byte; InvalidArgument when too long.
  Result<std::string> ReadHttpLine(size_t max_len);
  // Waits until a byte is readable: true, false on end of stream or error, or a
  // timeout status after `seconds`.
  Result<bool> WaitReadable(double seconds);

  void set_timeout(double seconds) { timeout_ = seconds; }
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
  // Milliseconds to wait now, or -1 when the deadline (or the paced budget) has passed.
  int WaitMs() const;
  Status Fill();
  Status TimedOut() const;

  int fd_;
  double timeout_;
  std::optional<Clock::time_point> deadline_;
  bool paced_ = false;
  size_t piece_left_ = 0;     // bytes still to come in the current 64 KiB piece
  double piece_budget_ = 0;   // seconds of waiting left for it
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  uint64_t received_ = 0;
};

// A request body of exactly `length` bytes; an early end is an error.
class LengthReader : public sync::ByteStream {
 public:
  LengthReader(SocketStream& s, uint64_t length) : s_(s), left_(length) {}
  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view) override;
  uint64_t left() const { return left_; }

 private:
  SocketStream& s_;
  uint64_t left_;
};

// A "Transfer-Encoding: chunked" request body, de-chunked. Chunk extensions and
// trailers are read and ignored; bad framing or an early end is an IOError (a timeout
// stays Unavailable, which the SSYNC receiver answers with ":ERROR: 408").
class ChunkedReader : public sync::ByteStream {
 public:
  explicit ChunkedReader(SocketStream& s) : s_(s) {}
  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view) override;
  bool done() const { return done_; }

 private:
  Status NextChunk();
  Result<std::string> FramingLine();
  SocketStream& s_;
  uint64_t left_ = 0;  // bytes left in the current chunk
  bool in_chunk_ = false;
  bool done_ = false;
};

// A chunked response body: every Write is sent at once as one chunk (an SSYNC peer
// waits for each answer line, so nothing is held back); Finish sends the last chunk.
class ChunkedWriter : public sync::ByteStream {
 public:
  explicit ChunkedWriter(SocketStream& s) : s_(s) {}
  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view data) override;
  Status Finish();
  bool finished() const { return finished_; }

 private:
  SocketStream& s_;
  bool finished_ = false;
};

// Parses a chunk-size line ("1a2b" or "1a;ext=1"); InvalidArgument when malformed.
Result<uint64_t> ParseChunkSize(std::string_view line);

}  // namespace replicant::receiver
