#include "base/text.h"

#include <cmath>
#include <cstdio>

namespace replicant {

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string SecondsText(double seconds) {
  char buf[64];
  if (seconds == std::floor(seconds) && std::fabs(seconds) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", seconds);
  } else {
    std::snprintf(buf, sizeof buf, "%g", seconds);
  }
  return std::string(buf) + (seconds == 1 ? " second" : " seconds");
}

bool IsLowerHex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace replicant
