#include "net/byte_stream.h"

namespace replicant::net {

Status ByteStream::ReadExact(char* buf, size_t n, std::string_view what) {
  size_t got = 0;
  while (got < n) {
    auto r = Read(buf + got, n - got);
    if (!r.ok()) return r.status();
    if (*r == 0) {
      return Status::IOError("early end of stream reading " + std::string(what) + " (" +
                             std::to_string(got) + " of " + std::to_string(n) + " bytes)");
    }
    got += *r;
  }
  return Status::OK();
}

Result<std::string> ByteStream::ReadLine(size_t max_len) {
  // Byte at a time: callers wrap sockets in buffered streams, so this stays cheap.
  std::string line;
  char c;
  for (;;) {
    auto r = Read(&c, 1);
    if (!r.ok()) return r.status();
    if (*r == 0) {
      if (line.empty()) return Status::NotFound("end of stream");
      return Status::IOError("early end of stream inside a line");
    }
    if (c == '\n') return line;
    if (line.size() >= max_len) {
      return Status::InvalidArgument("line longer than " + std::to_string(max_len) + " bytes");
    }
    line += c;
  }
}

}  // namespace replicant::net
