// Small text helpers every module shares: ASCII case folding for protocol tokens and
// header names, and the "N seconds" wording of Swift's timeout messages.
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace replicant {

// ASCII lower case ('A'-'Z' only; other bytes unchanged), as HTTP header names and
// Swift's metadata keys compare, independent of the C locale.
std::string LowerAscii(std::string_view s);

// "15 seconds" / "0.5 seconds" / "1 second": eventlet Timeout's text, as Swift's lock
// and SSYNC timeout messages use it.
std::string SecondsText(double seconds);

}  // namespace replicant
