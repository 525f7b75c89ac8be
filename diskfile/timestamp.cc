#include "diskfile/timestamp.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "formats/pystr.h"

namespace replicant {
namespace {

constexpr double kPrecision = 1e-5;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Python float() syntax for finite decimal numbers (after stripping whitespace):
// [sign] (digits [. digits?] | . digits) [(e|E) [sign] digits]. inf/nan are refused
// because Swift cannot use them either (int(round(inf)) raises).
bool ParsePythonFloat(std::string_view s, double* out) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  size_t i = 0, n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < n && IsDigit(s[i])) { ++i; ++int_digits; }
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && IsDigit(s[i])) { ++i; ++frac_digits; }
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < n && IsDigit(s[i])) { ++i; ++exp_digits; }
    if (exp_digits == 0) return false;
  }
  if (i != n) return false;
  std::string copy(s);
  *out = std::strtod(copy.c_str(), nullptr);
  return std::isfinite(*out);
}

}  // namespace

Result<Timestamp> Timestamp::FromSeconds(double seconds, uint64_t offset, int64_t delta) {
  if (!std::isfinite(seconds)) return Status::InvalidArgument("timestamp is not finite");
  Timestamp t;
  t.seconds_ = seconds;
  t.offset_ = offset;
  // Python's round() is round-half-even, as nearbyint is in the default mode.
  double raw = std::nearbyint(seconds / kPrecision);
  if (std::fabs(raw) > 9.2e18) return Status::InvalidArgument("timestamp too large");
  t.raw_ = static_cast<int64_t>(raw);
  if (delta != 0) {
    t.raw_ += delta;
    if (t.raw_ <= 0) return Status::InvalidArgument("delta must be greater than " + std::to_string(-t.raw_));
    t.seconds_ = static_cast<double>(t.raw_) * kPrecision;
  }
  if (t.seconds_ < 0) return Status::InvalidArgument("timestamp cannot be negative");
  if (t.seconds_ >= 10000000000.0) return Status::InvalidArgument("timestamp too large");
  return t;
}

Result<Timestamp> Timestamp::Parse(std::string_view text) {
  size_t us = text.find('_');
  std::string base;
  double seconds;
  if (!pystr::ToAsciiNumber(text.substr(0, us), &base) || !ParsePythonFloat(base, &seconds)) {
    return Status::InvalidArgument("invalid timestamp '" + std::string(text) + "'");
  }
  uint64_t offset = 0;
  bool negative = false;
  // "123_" has an empty offset, which Swift reads as 0.
  if (us != std::string_view::npos && us + 1 < text.size()) {
    std::string_view off_text = text.substr(us + 1);
    if (off_text.find('_') != std::string_view::npos ||
        !pystr::ParseHexInt(off_text, &negative, &offset)) {
      return Status::InvalidArgument("invalid timestamp offset in '" + std::string(text) + "'");
    }
  }
  auto t = FromSeconds(seconds, offset);
  if (t.ok() && negative && offset != 0) t->offset_negative_ = true;
  return t;
}

Timestamp Timestamp::Now() {
  double now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  return FromSeconds(now).value();
}

std::string Timestamp::normal() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016.05f", seconds_);
  return buf;
}

std::string Timestamp::internal() const {
  if (offset_ == 0) return normal();
  char buf[40];
  // Python's "%016x" of a negative int puts the sign inside the 16-character width.
  if (offset_negative_) {
    std::snprintf(buf, sizeof buf, "_-%015llx", static_cast<unsigned long long>(offset_));
  } else {
    std::snprintf(buf, sizeof buf, "_%016llx", static_cast<unsigned long long>(offset_));
  }
  return normal() + buf;
}

std::strong_ordering Timestamp::operator<=>(const Timestamp& o) const {
  // Fast path (sorting is hot): correctly rounded "%016.05f" is monotonic, so values
  // more than two units apart order as their strings do, as long as both strings have
  // the fixed 16-character width and no sign (-0.0 formats as "-000000000.00000").
  constexpr double kFixedWidthMax = 9999999999.9999;
  if (std::fabs(seconds_ - o.seconds_) > 2 * kPrecision && seconds_ < kFixedWidthMax &&
      o.seconds_ < kFixedWidthMax && !std::signbit(seconds_) && !std::signbit(o.seconds_)) {
    return seconds_ < o.seconds_ ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  char a[64], b[64];
  std::snprintf(a, sizeof a, "%016.05f", seconds_);
  std::snprintf(b, sizeof b, "%016.05f", o.seconds_);
  if (int c = std::strcmp(a, b); c != 0) {
    return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  if (!offset_negative_ && !o.offset_negative_) return offset_ <=> o.offset_;
  // Rare: Swift orders by the internal strings, where "_-..." sorts below "_0...".
  int c = internal().compare(o.internal());
  return c < 0 ? std::strong_ordering::less
               : c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal;
}

}  // namespace replicant
