#include "hashes/timestamp.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

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

// Python int(x, 16): optional whitespace, sign, optional 0x prefix, hex digits
// (single underscores between digits allowed).
bool ParsePythonHex(std::string_view s, int64_t* sign, uint64_t* out) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  *sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    if (s[0] == '-') *sign = -1;
    s.remove_prefix(1);
  }
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    if (!s.empty() && s[0] == '_') s.remove_prefix(1);
  }
  if (s.empty()) return false;
  unsigned __int128 v = 0;
  bool prev_underscore = true;  // no leading underscore
  for (char c : s) {
    int d;
    if (c == '_') {
      if (prev_underscore) return false;
      prev_underscore = true;
      continue;
    }
    if (IsDigit(c)) d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    prev_underscore = false;
    v = v * 16 + d;
    if (v > UINT64_MAX) return false;  // larger than Swift's MAX_OFFSET anyway
  }
  if (prev_underscore) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

}  // namespace

Result<Timestamp> Timestamp::FromSeconds(double seconds, uint64_t offset, int64_t delta) {
  if (!std::isfinite(seconds)) return Status::InvalidArgument("timestamp is not finite");
  Timestamp t;
  t.seconds_ = seconds;
  t.offset_ = offset;
  double raw = std::round(seconds / kPrecision);
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
  std::string_view base = text.substr(0, us);
  double seconds;
  if (!ParsePythonFloat(base, &seconds)) {
    return Status::InvalidArgument("invalid timestamp '" + std::string(text) + "'");
  }
  uint64_t offset = 0;
  if (us != std::string_view::npos) {
    std::string_view off = text.substr(us + 1);
    int64_t sign;
    if (off.find('_') != std::string_view::npos || !ParsePythonHex(off, &sign, &offset)) {
      return Status::InvalidArgument("invalid timestamp offset in '" + std::string(text) + "'");
    }
    if (sign < 0 && offset != 0) {
      return Status::InvalidArgument("offset must be non-negative in '" + std::string(text) + "'");
    }
  }
  return FromSeconds(seconds, offset);
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
  char buf[32];
  std::snprintf(buf, sizeof buf, "_%016llx", static_cast<unsigned long long>(offset_));
  return normal() + buf;
}

std::strong_ordering Timestamp::operator<=>(const Timestamp& o) const {
  std::string a = normal(), b = o.normal();
  if (auto c = a.compare(b); c != 0) return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  return offset_ <=> o.offset_;
}

}  // namespace replicant
