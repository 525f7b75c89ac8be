// MemoryStream: a ByteStream that reads from a fixed buffer and discards writes, so a
// fuzz target can feed a receiver or parser an arbitrary byte string as its peer.
// Not thread-safe.
#pragma once

#include <cstring>
#include <string_view>

#include "net/byte_stream.h"

namespace replicant::fuzz {

class MemoryStream : public net::ByteStream {
 public:
  explicit MemoryStream(std::string_view in) : in_(in) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, in_.size() - pos_);
    std::memcpy(buf, in_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  Status Write(std::string_view data) override {
    written_ += data.size();
    return Status::OK();
  }
  size_t written() const { return written_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  size_t written_ = 0;
};

}  // namespace replicant::fuzz
