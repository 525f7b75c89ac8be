#include "receiver/http_streams.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace replicant::receiver {
namespace {

constexpr size_t kBufSize = 64 * 1024;
constexpr size_t kMaxChunkLine = 4096;

Status NotReadable() { return Status::InvalidArgument("stream is write-only"); }

}  // namespace

SocketStream::SocketStream(int fd, double timeout_seconds)
    : fd_(fd), timeout_(timeout_seconds), buf_(kBufSize, '\0') {}

SocketStream::~SocketStream() {
  if (fd_ >= 0) close(fd_);
}

void SocketStream::Shutdown() { shutdown(fd_, SHUT_RDWR); }

void SocketStream::LingeringClose(double seconds, size_t max_bytes) {
  shutdown(fd_, SHUT_WR);
  auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(seconds));
  size_t total = 0;
  while (total < max_bytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) break;
    ssize_t got = recv(fd_, buf_.data(), buf_.size(), 0);
    if (got <= 0) break;
    total += static_cast<size_t>(got);
  }
  pos_ = end_ = 0;
}

int SocketStream::WaitMs() const {
  double ms = timeout_ * 1000.0;
  if (deadline_) {
    auto left = std::chrono::duration<double, std::milli>(*deadline_ - Clock::now()).count();
    if (left <= 0) return -1;
    ms = std::min(ms, left);
  }
  if (paced_) {
    if (piece_budget_ <= 0) return -1;
    ms = std::min(ms, piece_budget_ * 1000.0);
  }
  return static_cast<int>(std::ceil(std::max(ms, 1.0)));
}

Status SocketStream::TimedOut() const {
  if (deadline_ && Clock::now() >= *deadline_) {
    return Status::Unavailable("request head not received in time");
  }
  if (paced_ && piece_budget_ <= 0) {
    return Status::Unavailable(
        fmt::format("client timeout ({:g}s for {} KiB)", timeout_, kBufSize / 1024));
  }
  return Status::Unavailable(fmt::format("client timeout ({:g}s without data)", timeout_));
}

Result<bool> SocketStream::WaitReadable(double seconds) {
  if (buffered() > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, static_cast<int>(std::ceil(seconds * 1000)));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Status::FromErrno("poll", errno);
  if (rc == 0) return Status::Unavailable(fmt::format("idle for {:g}s", seconds));
  return true;
}

Status SocketStream::Fill() {
  if (paced_ && piece_left_ == 0) {
    piece_left_ = kBufSize;
    piece_budget_ = timeout_;
  }
  for (;;) {
    int ms = WaitMs();
    if (ms < 0) return TimedOut();
    pollfd p{fd_, POLLIN, 0};
    auto waited_from = Clock::now();
    int rc = poll(&p, 1, ms);
    // Only time spent waiting for the client counts, not our own work between reads.
    if (paced_) piece_budget_ -= std::chrono::duration<double>(Clock::now() - waited_from).count();
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("poll", errno);
    }
    if (rc == 0) return TimedOut();
    ssize_t got = recv(fd_, buf_.data(), buf_.size(), 0);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::FromErrno("recv", errno);
    }
    pos_ = 0;
    end_ = static_cast<size_t>(got);
    received_ += end_;
    if (paced_) piece_left_ -= std::min(piece_left_, end_);
    return Status::OK();
  }
}

Result<size_t> SocketStream::Read(char* buf, size_t n) {
  if (n == 0) return size_t{0};
  if (pos_ == end_) {
    if (auto st = Fill(); !st.ok()) return st;
    if (end_ == 0) return size_t{0};  // orderly end of stream
  }
  size_t k = std::min(n, end_ - pos_);
  std::memcpy(buf, buf_.data() + pos_, k);
  pos_ += k;
  return k;
}

Result<std::string> SocketStream::ReadHttpLine(size_t max_len) {
  std::string line;
  for (;;) {
    if (pos_ == end_) {
      if (auto st = Fill(); !st.ok()) return st;
      if (end_ == 0) {
        if (line.empty()) return Status::NotFound("end of stream");
        return Status::IOError("client closed the connection inside a line");
      }
    }
    const char* start = buf_.data() + pos_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
    size_t take = nl ? static_cast<size_t>(nl - start) : end_ - pos_;
    if (line.size() + take > max_len + 1) {  // +1: room for a '\r' before the '\n'
      return Status::InvalidArgument(fmt::format("line longer than {} bytes", max_len));
    }
    line.append(start, take);
    pos_ += take;
    if (nl) {
      ++pos_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() > max_len) {
        return Status::InvalidArgument(fmt::format("line longer than {} bytes", max_len));
      }
      return line;
    }
  }
}

Status SocketStream::Write(std::string_view data) {
  piece_left_ = 0;  // an answer ends the client's message: its next one starts afresh
  while (!data.empty()) {
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return Status::FromErrno("send", errno);
    pollfd p{fd_, POLLOUT, 0};
    int rc = poll(&p, 1, static_cast<int>(std::ceil(timeout_ * 1000)));
    if (rc < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    if (rc == 0) {
      return Status::Unavailable(
          fmt::format("client timeout ({:g}s without reading the response)", timeout_));
    }
  }
  return Status::OK();
}

Result<size_t> LengthReader::Read(char* buf, size_t n) {
  if (left_ == 0) return size_t{0};
  auto got = s_.Read(buf, static_cast<size_t>(std::min<uint64_t>(n, left_)));
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
    int d = (c >= '0' && c <= '9') ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) return Status::InvalidArgument("bad chunk size line '" + std::string(line) + "'");
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}

Result<std::string> ChunkedReader::FramingLine() {
  auto line = s_.ReadHttpLine(kMaxChunkLine);
  if (line.ok() || line.status().code() == Status::Code::kUnavailable) return line;
  // Bad framing reads as a broken stream (eventlet's ChunkReadError); a timeout stays
  // Unavailable.
  if (line.status().IsNotFound()) {
    return Status::IOError("client closed the connection inside the chunked body");
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
      if (i >= 100) return Status::IOError("too many chunked-body trailers");
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
  auto got = s_.Read(buf, static_cast<size_t>(std::min<uint64_t>(n, left_)));
  if (!got.ok()) return got.status();
  if (*got == 0) return Status::IOError("client closed the connection inside a chunk");
  left_ -= *got;
  return got;
}

Status ChunkedReader::Write(std::string_view) { return Status::InvalidArgument("read-only"); }

Result<size_t> ChunkedWriter::Read(char*, size_t) { return NotReadable(); }

Status ChunkedWriter::Write(std::string_view data) {
  if (finished_) return Status::InvalidArgument("chunked response already finished");
  if (data.empty()) return Status::OK();  // an empty chunk would end the body
  std::string out = fmt::format("{:x}\r\n", data.size());
  out.reserve(out.size() + data.size() + 2);
  out.append(data);
  out.append("\r\n");
  return s_.Write(out);
}

Status ChunkedWriter::Finish() {
  if (finished_) return Status::OK();
  finished_ = true;
  return s_.Write("0\r\n\r\n");
}

}  // namespace replicant::receiver
