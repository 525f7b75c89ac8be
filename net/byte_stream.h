// ByteStream: a bidirectional byte pipe to a replication peer, with timeouts.
//
// The replication server hands protocol handlers (SSYNC, REPCONN) a ByteStream for
// the request body (already de-chunked where HTTP chunking applies) and one for the
// response; senders get one over their client socket (net::SocketStream). Framings
// (net/chunked.h) are ByteStreams layered on another. Not thread-safe: one stream is
// used by one thread at a time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace replicant::net {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to n bytes; 0 means end of stream. Errors: timeout, reset, bad framing.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  // Writes all of data (or fails).
  virtual Status Write(std::string_view data) = 0;
  // Pushes buffered output to the peer.
  virtual Status Flush() { return Status::OK(); }

  // Reads exactly n bytes; an early end of stream is an error naming `what`.
  Status ReadExact(char* buf, size_t n, std::string_view what = "data");
  // Reads one line ending in "\n" (returned without it) of at most max_len bytes;
  // NotFound at a clean end of stream before any byte, InvalidArgument when longer.
  // Byte at a time here; a stream with its own buffer finds the "\n" in it.
  virtual Result<std::string> ReadLine(size_t max_len);
};

}  // namespace replicant::net
