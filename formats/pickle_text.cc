// Decoders for the arguments of pickle's text opcodes (protocol 0 and Python 2).
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "formats/pickle.h"
#include "base/text.h"
#include "formats/pickle_internal.h"

namespace replicant::pickle::internal {
namespace {

bool Fail(std::string* error, std::string msg) {
  *error = std::move(msg);
  return false;
}

// Python's codecs.escape_decode, for STRING's quoted body.
bool EscapeDecode(std::string_view in, std::string* out, std::string* error) {
  out->clear();
  out->reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i++];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (i == in.size()) return Fail(error, "trailing \\ in STRING");
    char e = in[i++];
    switch (e) {
      case '\n': break;
      case '\\': out->push_back('\\'); break;
      case '\'': out->push_back('\''); break;
      case '"': out->push_back('"'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 't': out->push_back('\t'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 'v': out->push_back('\v'); break;
      case 'a': out->push_back('\a'); break;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        int v = e - '0';
        for (int k = 0; k < 2 && i < in.size() && in[i] >= '0' && in[i] <= '7'; ++k) {
          v = (v << 3) + (in[i++] - '0');
        }
        out->push_back(static_cast<char>(v & 0xFF));  // Python truncates \400 and up
        break;
      }
      case 'x': {
        int hi = i + 1 < in.size() ? HexDigitValue(in[i]) : -1;
        int lo = i + 1 < in.size() ? HexDigitValue(in[i + 1]) : -1;
        if (hi < 0 || lo < 0) return Fail(error, "invalid \\x escape in STRING");
        out->push_back(static_cast<char>((hi << 4) | lo));
        i += 2;
        break;
      }
      default:  // unknown escapes stay as they are
        out->push_back('\\');
        --i;
        break;
    }
  }
  return true;
}

// Python's raw_unicode_escape codec, for UNICODE, to UTF-8.
bool RawUnicodeEscapeDecode(std::string_view in, std::string* utf8, std::string* error) {
  utf8->clear();
  utf8->reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    if (in[i] != '\\') {
      AppendUtf8(static_cast<uint8_t>(in[i++]), utf8);  // bytes are Latin-1 code points
      continue;
    }
    // A run of backslashes is literal, except that an odd-length run directly
    // before 'u' or 'U' makes its last backslash start an escape.
    size_t run = 0;
    while (i < in.size() && in[i] == '\\') ++run, ++i;
    bool escape = run % 2 == 1 && i < in.size() && (in[i] == 'u' || in[i] == 'U');
    utf8->append(escape ? run - 1 : run, '\\');
    if (!escape) continue;
    int count = in[i] == 'u' ? 4 : 8;
    ++i;
    if (in.size() - i < static_cast<size_t>(count)) {
      return Fail(error, count == 4 ? "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape");
    }
    uint32_t cp = 0;
    for (int k = 0; k < count; ++k) {
      int d = HexDigitValue(in[i + k]);
      if (d < 0) {
        return Fail(error, count == 4 ? "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape");
      }
      cp = (cp << 4) | d;
    }
    i += count;
    if (cp > 0x10FFFF) return Fail(error, "\\Uxxxxxxxx out of range");
    AppendUtf8(cp, utf8);
  }
  return true;
}

// A decimal integer with optional sign, as Python 2 and 3 write INT and LONG.
bool ParseInt(std::string_view text, int64_t* out, std::string* error) {
  std::string_view t = text;
  bool neg = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  if (t.empty() || t.find_first_not_of("0123456789") != std::string_view::npos ||
      (t.size() > 1 && t[0] == '0' && t.find_first_not_of('0') != std::string_view::npos)) {
    return Fail(error, "bad integer '" + std::string(text.substr(0, 40)) + "'");
  }
  uint64_t mag;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), mag);
  if (ec != std::errc() || mag > (neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1)) {
    return Fail(error, "integer out of 64-bit range");
  }
  *out = neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
  return true;
}

}  // namespace

bool DecodeLong(std::string_view bytes, int64_t* out, std::string* error) {
  if (bytes.empty()) {
    *out = 0;
    return true;
  }
  size_t n = bytes.size();
  bool neg = static_cast<uint8_t>(bytes[n - 1]) & 0x80;
  // Bytes beyond the eighth may only repeat the sign.
  uint8_t fill = neg ? 0xFF : 0x00;
  for (size_t k = 8; k < n; ++k) {
    if (static_cast<uint8_t>(bytes[k]) != fill) return Fail(error, "integer out of 64-bit range");
  }
  size_t used = n < 8 ? n : 8;
  if (n > 8 && ((static_cast<uint8_t>(bytes[7]) & 0x80) != 0) != neg) {
    return Fail(error, "integer out of 64-bit range");
  }
  uint64_t v = neg ? ~uint64_t{0} : 0;  // sign-extend
  for (size_t k = 0; k < used; ++k) {
    v &= ~(uint64_t{0xFF} << (8 * k));
    v |= uint64_t{static_cast<uint8_t>(bytes[k])} << (8 * k);
  }
  *out = static_cast<int64_t>(v);
  return true;
}

// repr() (Python 3) or "%.17g" (Python 2); inf and nan included.
bool ParseFloatLine(std::string_view text, Value* value, std::string* error) {
  std::string_view t = text;
  bool neg = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  double d = 0;
  auto [p, ec] = t.empty() || t[0] == '+' || t[0] == '-'
                     ? std::from_chars_result{t.data(), std::errc::invalid_argument}
                     : std::from_chars(t.data(), t.data() + t.size(), d);
  if (ec == std::errc::result_out_of_range && p == t.data() + t.size()) {
    // from_chars reports underflow too, where Python gives 0.0 or a subnormal.
    d = std::strtod(std::string(t).c_str(), nullptr);
    if (std::isinf(d)) return Fail(error, "float out of range");
  } else if (ec != std::errc() || p != t.data() + t.size()) {
    return Fail(error, "bad float '" + std::string(text.substr(0, 40)) + "'");
  }
  *value = Value::Float(neg ? -d : d);
  return true;
}

bool ParseIntLine(std::string_view line, Value* out, std::string* error) {
  if (line == "00" || line == "01") {  // Python 2 bools
    *out = Value::Bool(line == "01");
    return true;
  }
  int64_t v;
  if (!ParseInt(line, &v, error)) return false;
  *out = Value::Int(v);
  return true;
}

bool ParseLongLine(std::string_view line, Value* out, std::string* error) {
  if (!line.empty() && line.back() == 'L') line.remove_suffix(1);  // Python 2's suffix
  int64_t v;
  if (!ParseInt(line, &v, error)) return false;
  *out = Value::Int(v);
  return true;
}

// A Python 2 str as repr() wrote it, quotes included.
bool ParseStringLine(std::string_view line, Value* out, std::string* error) {
  if (line.size() < 2 || line.front() != line.back() || (line[0] != '\'' && line[0] != '"')) {
    return Fail(error, "the STRING argument must be quoted");
  }
  std::string s;
  if (!EscapeDecode(line.substr(1, line.size() - 2), &s, error)) return false;
  *out = Value::Str(std::move(s));
  return true;
}

bool ParseUnicodeLine(std::string_view line, Value* out, std::string* error) {
  std::string s;
  if (!RawUnicodeEscapeDecode(line, &s, error)) return false;
  *out = Value::Str(std::move(s));
  return true;
}

}  // namespace replicant::pickle::internal
