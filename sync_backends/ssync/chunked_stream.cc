#include "sync_backends/ssync/chunked_stream.h"

#include <cstdio>
#include <string>

namespace replicant::sync::ssync {

Result<size_t> ChunkedWriter::Read(char*, size_t) {
  return Status::InvalidArgument("ChunkedWriter is write-only");
}

Status ChunkedWriter::Write(std::string_view data) {
  if (finished_) return Status::InvalidArgument("write after the last chunk");
  if (data.empty()) return Status::OK();
  char head[24];
  int n = std::snprintf(head, sizeof head, "%zx\r\n", data.size());
  if (auto s = out_.Write(std::string_view(head, n)); !s.ok()) return s;
  if (auto s = out_.Write(data); !s.ok()) return s;
  return out_.Write("\r\n");
}

Status ChunkedWriter::Finish() {
  if (finished_) return Status::OK();
  finished_ = true;
  if (auto s = out_.Write("0\r\n\r\n"); !s.ok()) return s;
  return out_.Flush();
}

Result<size_t> ChunkedReader::Read(char* buf, size_t n) {
  if (eof_ || n == 0) return size_t{0};
  if (left_ == 0) {
    auto line = in_.ReadLine(max_size_line_);
    if (!line.ok()) {
      if (line.status().IsNotFound()) return Status::IOError("early end of chunked stream");
      return line.status();
    }
    std::string_view size = *line;
    if (size_t semi = size.find(';'); semi != std::string_view::npos) size = size.substr(0, semi);
    while (!size.empty() && (size.back() == '\r' || size.back() == ' ' || size.back() == '\t')) {
      size.remove_suffix(1);
    }
    while (!size.empty() && (size.front() == ' ' || size.front() == '\t')) size.remove_prefix(1);
    if (size.empty() || size.size() > 15) {
      return Status::InvalidArgument("bad chunk size line '" + std::string(line->substr(0, 64)) + "'");
    }
    uint64_t v = 0;
    for (char c : size) {
      int d = (c >= '0' && c <= '9') ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) {
        return Status::InvalidArgument("bad chunk size line '" + std::string(line->substr(0, 64)) + "'");
      }
      v = v * 16 + d;
    }
    if (v == 0) {
      // Trailers, up to the blank line that ends the body.
      for (;;) {
        auto t = in_.ReadLine(max_size_line_);
        if (!t.ok()) {
          if (t.status().IsNotFound()) break;  // peer closed right after "0\r\n"
          return t.status();
        }
        if (t->empty() || *t == "\r") break;
      }
      eof_ = true;
      return size_t{0};
    }
    left_ = v;
  }
  size_t want = n < left_ ? n : static_cast<size_t>(left_);
  auto got = in_.Read(buf, want);
  if (!got.ok()) return got.status();
  if (*got == 0) return Status::IOError("early end of stream inside a chunk");
  left_ -= *got;
  if (left_ == 0) {
    char crlf[2];
    if (auto s = in_.ReadExact(crlf, 2, "chunk end"); !s.ok()) return s;
    if (crlf[0] != '\r' || crlf[1] != '\n') {
      return Status::InvalidArgument("chunk not followed by CRLF");
    }
  }
  return *got;
}

Status ChunkedReader::Write(std::string_view) {
  return Status::InvalidArgument("ChunkedReader is read-only");
}

}  // namespace replicant::sync::ssync
