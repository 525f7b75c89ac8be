// HTTP/1.1 body framings as ByteStreams layered on another stream: a body of known
// length (LengthReader) and the chunked transfer coding (ChunkedReader, ChunkedWriter).
//
// SSYNC sends its request body and reads its response body as chunked streams at the
// same time, line by line, so neither side can buffer a whole body: ChunkedWriter
// frames every Write() as one chunk ("<hex>\r\n<data>\r\n", sent at once, as an SSYNC
// peer waits for each line) and Finish() writes the last chunk ("0\r\n\r\n");
// ChunkedReader undoes the framing, reading no byte past the one asked for (chunk
// extensions and trailers are read and ignored). Bad framing or an early end is an
// IOError (eventlet's ChunkReadError); a timeout of the stream below stays Unavailable
// (the SSYNC receiver answers it with ":ERROR: 408"). Wire framing only: no protocol
// knowledge here. Not thread-safe: one user at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/byte_stream.h"

namespace replicant::net {

// A body of exactly `length` bytes; an early end is an error.
class LengthReader : public ByteStream {
 public:
  LengthReader(ByteStream& in, uint64_t length) : in_(in), left_(length) {}
  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view) override;  // not writable: error
  uint64_t left() const { return left_; }

 private:
  ByteStream& in_;
  uint64_t left_;
};

class ChunkedReader : public ByteStream {
 public:
  explicit ChunkedReader(ByteStream& in) : in_(in) {}
  // 0 after the last chunk and its trailers.
  Result<size_t> Read(char* buf, size_t n) override;
  Status Write(std::string_view) override;  // not writable: error
  bool done() const { return done_; }

 private:
  Status NextChunk();
  Result<std::string> FramingLine();
  ByteStream& in_;
  uint64_t left_ = 0;  // bytes left in the current chunk
  bool in_chunk_ = false;
  bool done_ = false;
};

class ChunkedWriter : public ByteStream {
 public:
  explicit ChunkedWriter(ByteStream& out) : out_(out) {}
  Result<size_t> Read(char* buf, size_t n) override;  // not readable: error
  // One chunk per call; an empty write sends nothing (a zero chunk would end the body).
  Status Write(std::string_view data) override;
  Status Flush() override { return out_.Flush(); }
  // Writes the terminating zero-length chunk and flushes.
  Status Finish();
  bool finished() const { return finished_; }

 private:
  ByteStream& out_;
  bool finished_ = false;
};

// Parses a chunk-size line ("1a2b" or "1a;ext=1"); InvalidArgument when malformed.
Result<uint64_t> ParseChunkSize(std::string_view line);

}  // namespace replicant::net
