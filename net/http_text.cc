#include "net/http_text.h"

#include <fmt/format.h>

#include "base/text.h"

namespace replicant::net {

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool HasToken(const std::string* value, std::string_view token) {
  if (!value) return false;
  std::string_view v = *value;
  while (!v.empty()) {
    size_t comma = v.find(',');
    if (LowerAscii(TrimOws(v.substr(0, comma))) == token) return true;
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return false;
}

bool LastCodingIsChunked(std::string_view te) {
  size_t comma = te.rfind(',');
  return LowerAscii(TrimOws(te.substr(comma == std::string_view::npos ? 0 : comma + 1))) ==
         "chunked";
}

std::string PercentDecode(std::string_view s) {
  auto hex = HexDigitValue;
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > 80) out += "...";
  return out;
}

}  // namespace replicant::net
