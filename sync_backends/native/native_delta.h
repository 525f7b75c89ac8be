// Delta transfer for the native protocol, with librsync.
//
// A receiver that already holds an older .data of an object sends its signature;
// the sender encodes the new .data as a delta against it (copy runs of matching
// blocks, literal bytes for the rest); the receiver patches its old file with the
// delta into a new temp file. All three stream: memory is bounded by the signature
// (a few bytes per block; librsync picks a block length that grows with the file)
// and one buffer, never by the object size. Inputs from the network are untrusted:
// a bad signature or delta is an error value, and patch output is capped.
// Stateless functions; a DeltaEncoder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace replicant::sync::native {

using Sink = std::function<Status(std::string_view)>;
// Next piece of input; an empty string at its end.
using Source = std::function<Result<std::string>()>;

// The librsync signature of size bytes of fd, read with pread from offset 0.
Result<std::string> FileSignature(int fd, uint64_t size);

class DeltaEncoder {
 public:
  // Loads and indexes a signature received from a peer (at most max_size bytes).
  static Result<std::unique_ptr<DeltaEncoder>> Create(std::string_view signature);
  ~DeltaEncoder();
  DeltaEncoder(const DeltaEncoder&) = delete;
  DeltaEncoder& operator=(const DeltaEncoder&) = delete;

  // The delta of size bytes of fd against the signature, in pieces to out.
  Status Encode(int fd, uint64_t size, const Sink& out);

 private:
  struct Sig;
  explicit DeltaEncoder(std::unique_ptr<Sig> sig);
  std::unique_ptr<Sig> sig_;
};

// Rebuilds a file from base_fd (base_size bytes) and a delta read from `delta`,
// writing at most max_output bytes to out (more is an error: a hostile delta).
// Returns the number of bytes written.
Result<uint64_t> ApplyDelta(int base_fd, uint64_t base_size, const Source& delta,
                            uint64_t max_output, const Sink& out);

}  // namespace replicant::sync::native
