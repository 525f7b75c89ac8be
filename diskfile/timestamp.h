// Timestamp: Swift's swift.common.utils.Timestamp, the name of every object file.
//
// A timestamp is seconds since the epoch with 1e-5 s precision, plus an optional
// 64-bit "offset" that orders several events at the same instant. Its canonical text
// forms are `normal` ("%016.05f") and `internal` (normal + "_%016x" when offset != 0);
// Swift compares timestamps by their internal strings, and so do we. Immutable value,
// thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace replicant {

class Timestamp {
 public:
  Timestamp() = default;  // 0000000000.00000
  // From seconds (as Swift's Timestamp(float)); offset added; delta in 1e-5 s units.
  static Result<Timestamp> FromSeconds(double seconds, uint64_t offset = 0, int64_t delta = 0);
  // Parses Swift's text forms: "<float>[_<hex offset>]", as Timestamp(str) does
  // (Python float() syntax for the base, int(x, 16) for the offset, bounds checked;
  // Unicode digits and spaces as Python accepts them; an empty offset means 0).
  static Result<Timestamp> Parse(std::string_view text);
  static Timestamp Now();

  double seconds() const { return seconds_; }
  // Magnitude of the offset. Swift's Timestamp(str) also accepts a negative offset
  // ("123_-5", internal form "..._-000000000000005"); offset_negative() says so.
  uint64_t offset() const { return offset_; }
  bool offset_negative() const { return offset_negative_; }
  // Integer count of 1e-5 s units (Swift's Timestamp.raw).
  int64_t raw() const { return raw_; }
  std::string normal() const;
  std::string internal() const;
  // Swift orders by internal string; since both parts are zero-padded that is the
  // same as comparing (normal, offset).
  std::strong_ordering operator<=>(const Timestamp& o) const;
  bool operator==(const Timestamp& o) const { return (*this <=> o) == 0; }

 private:
  double seconds_ = 0;
  uint64_t offset_ = 0;
  bool offset_negative_ = false;
  int64_t raw_ = 0;
};

}  // namespace replicant
