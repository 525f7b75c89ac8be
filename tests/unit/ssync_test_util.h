// In-memory ByteStreams for the [ssync] unit tests: a scripted source, a sink, and a
// blocking pipe between two threads.
#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#include "net/byte_stream.h"

namespace replicant::testing {

// Reads `data`; then either a clean end of stream or, with fail_at_end, `end_status`.
class SourceStream : public net::ByteStream {
 public:
  explicit SourceStream(std::string data, Status end_status = Status::OK())
      : data_(std::move(data)), end_(std::move(end_status)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    if (pos_ == data_.size()) {
      if (!end_.ok()) return end_;
      return size_t{0};
    }
    size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  Status Write(std::string_view) override { return Status::InvalidArgument("read-only"); }

 private:
  std::string data_;
  Status end_;
  size_t pos_ = 0;
};

class SinkStream : public net::ByteStream {
 public:
  Result<size_t> Read(char*, size_t) override { return Status::InvalidArgument("write-only"); }
  Status Write(std::string_view d) override {
    data += d;
    return Status::OK();
  }
  std::string data;
};

// One direction of a connection: Write on one thread, Read on another.
class PipeStream : public net::ByteStream {
 public:
  Result<size_t> Read(char* buf, size_t n) override {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty() || closed_; });
    size_t k = 0;
    while (k < n && !q_.empty()) {
      buf[k++] = q_.front();
      q_.pop_front();
    }
    return k;
  }
  Status Write(std::string_view d) override {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return Status::IOError("pipe closed");
    q_.insert(q_.end(), d.begin(), d.end());
    cv_.notify_all();
    return Status::OK();
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<char> q_;
  bool closed_ = false;
};

}  // namespace replicant::testing
