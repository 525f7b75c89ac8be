// HTTP/1.1 chunked transfer coding as ByteStreams, for SSYNC's streaming bodies.
//
// SSYNC sends its request body and reads its response body as chunked streams at the
// same time, line by line, so neither side can buffer a whole body. ChunkedWriter
// frames every Write() as one chunk ("<hex>\r\n<data>\r\n") on an underlying stream
// and Finish() writes the last chunk ("0\r\n\r\n"); ChunkedReader undoes the framing
// (chunk extensions and trailers are accepted and ignored, as Swift's readline does).
// Wire framing only: no SSYNC knowledge here. Not thread-safe; one user at a time.
#pragma once

#include <cstdint>
#include <string_view>

#include "sync_backends/byte_stream.h"

namespace replicant::sync::ssync {

class ChunkedWriter : public ByteStream {
 public:
  explicit ChunkedWriter(ByteStream& out) : out_(out) {}
  Result<size_t> Read(char* buf, size_t n) override;  // not readable: error
  // One chunk per call; an empty write sends nothing (a zero chunk would end the body).
  Status Write(std::string_view data) override;
  Status Flush() override { return out_.Flush(); }
  // Writes the terminating zero-length chunk and flushes.
  Status Finish();

 private:
  ByteStream& out_;
  bool finished_ = false;
};

class ChunkedReader : public ByteStream {
 public:
  // max_size_line bounds a chunk-size line (extensions included).
  explicit ChunkedReader(ByteStream& in, size_t max_size_line = 4096)
      : in_(in), max_size_line_(max_size_line) {}
  // 0 after the last chunk and its trailers; InvalidArgument on bad framing; IOError
  // when the stream ends inside a chunk.
  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view data) override;  // not writable: error
  bool at_end() const { return eof_; }

 private:
  ByteStream& in_;
  size_t max_size_line_;
  uint64_t left_ = 0;
  bool eof_ = false;
};

}  // namespace replicant::sync::ssync
