#include "net/framing.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/text.h"

namespace replicant::net {
namespace {

constexpr size_t kMaxChunkLine = 4096;  // a chunk-size line, extensions included
constexpr int kMaxTrailers = 100;

}  // namespace

Result<size_t> LengthReader::Read(char* buf, size_t n) {
  if (left_ == 0) return size_t{0};
  auto got = in_.Read(buf, static_cast<size_t>(std::min<uint64_t>(n, left_)));
  if (!got.ok()) return got.status();
  if (*got == 0) {
    return Status::IOError(fmt::format("client closed the connection {} bytes before the end "
                                       "of the body", left_));
  }
  left_ -= *got;
  return got;
}

Status LengthReader::Write(std::string_view) { return Status::InvalidArgument("read-only"); }

Result<uint64_t> ParseChunkSize(std::string_view line) {
  size_t semi = line.find(';');
  if (semi != std::string_view::npos) line = line.substr(0, semi);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty() || line.size() > 15) {
    return Status::InvalidArgument("bad chunk size line '" + std::string(line.substr(0, 40)) + "'");
  }
  uint64_t v = 0;
  for (char c : line) {
    int d = HexDigitValue(c);
    if (d < 0) return Status::InvalidArgument("bad chunk size line '" + std::string(line) + "'");
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}

// A framing line (chunk size, the CRLF after a chunk's data, a trailer) without its
// "\r\n" (or bare "\n"), at most kMaxChunkLine bytes.
Result<std::string> ChunkedReader::FramingLine() {
  auto line = in_.ReadLine(kMaxChunkLine + 1);  // +1: room for a '\r' before the '\n'
  if (line.ok()) {
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (line->size() <= kMaxChunkLine) return line;
    return Status::IOError(fmt::format("chunked body: line longer than {} bytes", kMaxChunkLine));
  }
  if (line.status().code() == Status::Code::kUnavailable) return line;  // a timeout stays one
  if (line.status().IsNotFound()) {
    return Status::IOError("connection closed inside the chunked body");
  }
  return Status::IOError("chunked body: " + line.status().message());
}

Status ChunkedReader::NextChunk() {
  if (in_chunk_) {  // the CRLF that ends the previous chunk's data
    auto end = FramingLine();
    if (!end.ok()) return end.status();
    if (!end->empty()) return Status::IOError("chunk data not followed by CRLF");
    in_chunk_ = false;
  }
  auto line = FramingLine();
  if (!line.ok()) return line.status();
  auto size = ParseChunkSize(*line);
  if (!size.ok()) return Status::IOError(size.status().message());
  if (*size == 0) {
    for (int i = 0;; ++i) {  // trailers, up to the empty line
      auto t = FramingLine();
      if (!t.ok()) return t.status();
      if (t->empty()) break;
      if (i >= kMaxTrailers) return Status::IOError("too many chunked-body trailers");
    }
    done_ = true;
    return Status::OK();
  }
  left_ = *size;
  in_chunk_ = true;
  return Status::OK();
}

Result<size_t> ChunkedReader::Read(char* buf, size_t n) {
  while (!done_ && left_ == 0) {
    if (auto st = NextChunk(); !st.ok()) return st;
  }
  if (done_ || n == 0) return size_t{0};
  auto got = in_.Read(buf, static_cast<size_t>(std::min<uint64_t>(n, left_)));
  if (!got.ok()) return got.status();
  if (*got == 0) return Status::IOError("connection closed inside a chunk");
  left_ -= *got;
  return got;
}

Status ChunkedReader::Write(std::string_view) { return Status::InvalidArgument("read-only"); }

Result<size_t> ChunkedWriter::Read(char*, size_t) {
  return Status::InvalidArgument("stream is write-only");
}

Status ChunkedWriter::Write(std::string_view data) {
  if (finished_) return Status::InvalidArgument("write after the last chunk");
  if (data.empty()) return Status::OK();  // an empty chunk would end the body
  std::string out = fmt::format("{:x}\r\n", data.size());
  out.reserve(out.size() + data.size() + 2);
  out.append(data);
  out.append("\r\n");
  return out_.Write(out);
}

Status ChunkedWriter::Finish() {
  if (finished_) return Status::OK();
  finished_ = true;
  if (auto s = out_.Write("0\r\n\r\n"); !s.ok()) return s;
  return out_.Flush();
}

}  // namespace replicant::net
