// Small text helpers every module shares: ASCII case folding for protocol tokens and
// header names, hex digits (chunk sizes, hashes, suffixes, percent escapes, pickled
// text), and the "N seconds" wording of Swift's timeout messages.
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace replicant {

// ASCII lower case ('A'-'Z' only; other bytes unchanged), as HTTP header names and
// Swift's metadata keys compare, independent of the C locale.
std::string LowerAscii(std::string_view s);

// The value of a hex digit, either case; -1 for any other byte.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether `s` is non-empty and all lower-case hex, as Swift writes hashes and suffixes.
bool IsLowerHex(std::string_view s);

// "15 seconds" / "0.5 seconds" / "1 second": eventlet Timeout's text, as Swift's lock
// and SSYNC timeout messages use it.
std::string SecondsText(double seconds);

}  // namespace replicant
