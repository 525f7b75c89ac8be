#include "formats/pystr.h"

#include <algorithm>
#include <array>

#include "base/text.h"
#include "formats/py_text.h"

namespace replicant::pystr {
namespace {

using py::AppendUtf8;
using py::IsSpace;

bool IsCont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the strictly valid UTF-8 sequence at s[i], or 0 (Python's decoder rules).
size_t StrictSeqLen(std::string_view s, size_t i) {
  unsigned char b0 = s[i];
  if (b0 < 0x80) return 1;
  size_t n = s.size() - i;
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (b0 >= 0xC2 && b0 <= 0xDF) return n >= 2 && IsCont(at(1)) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (n < 3) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no encoded surrogates
    return at(1) >= lo && at(1) <= hi && IsCont(at(2)) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (n < 4) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
    return at(1) >= lo && at(1) <= hi && IsCont(at(2)) && IsCont(at(3)) ? 4 : 0;
  }
  return 0;
}


// First code points of the 65 runs of Unicode decimal digits (Nd) in Unicode 14.0,
// the database of Debian's Python 3.11; each run is '0'..'9'.
constexpr std::array<char32_t, 65> kDigitZeros = {
    0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,
    0xC66,   0xCE6,   0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,
    0x17E0,  0x1810,  0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,
    0x1C50,  0xA620,  0xA8D0,  0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0,
    0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60,
    0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0,
    0x1E950, 0x1FBF0};

int DecimalValue(char32_t cp) {
  auto it = std::upper_bound(kDigitZeros.begin(), kDigitZeros.end(), cp);
  if (it == kDigitZeros.begin()) return -1;
  char32_t zero = *(it - 1);
  return cp - zero < 10 ? static_cast<int>(cp - zero) : -1;
}

}  // namespace

bool NextCodePoint(std::string_view s, size_t* i, char32_t* cp) {
  unsigned char b0 = s[*i];
  size_t len;
  char32_t v;
  if (b0 < 0x80) { len = 1; v = b0; }
  else if ((b0 & 0xE0) == 0xC0) { len = 2; v = b0 & 0x1F; }
  else if ((b0 & 0xF0) == 0xE0) { len = 3; v = b0 & 0x0F; }
  else if ((b0 & 0xF8) == 0xF0) { len = 4; v = b0 & 0x07; }
  else return false;
  if (*i + len > s.size()) return false;
  for (size_t k = 1; k < len; ++k) {
    unsigned char c = s[*i + k];
    if (!IsCont(c)) return false;
    v = (v << 6) | (c & 0x3F);
  }
  *i += len;
  *cp = v;
  return true;
}

std::string FromFsName(std::string_view raw) {
  if (IsStrictUtf8(raw)) return std::string(raw);
  std::string out;
  out.reserve(raw.size() * 3);
  for (size_t i = 0; i < raw.size();) {
    if (size_t n = StrictSeqLen(raw, i)) {
      out.append(raw.substr(i, n));
      i += n;
    } else {
      AppendUtf8(0xDC00 + static_cast<unsigned char>(raw[i]), &out);
      ++i;
    }
  }
  return out;
}

bool ToFsName(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    char32_t cp;
    if (!NextCodePoint(s, &i, &cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      if (cp < 0xDC80 || cp > 0xDCFF) return false;
      out->push_back(static_cast<char>(cp - 0xDC00));
    } else {
      out->append(s.substr(start, i - start));
    }
  }
  return true;
}

size_t Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += !IsCont(static_cast<unsigned char>(c));
  return n;
}

bool IsStrictUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    size_t n = StrictSeqLen(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string_view Strip(std::string_view s) {
  // Leading: decode forwards.
  size_t i = 0;
  while (i < s.size()) {
    size_t next = i;
    char32_t cp;
    if (!NextCodePoint(s, &next, &cp) || !IsSpace(cp)) break;
    i = next;
  }
  s.remove_prefix(i);
  // Trailing: find the start of each last code point.
  while (!s.empty()) {
    size_t start = s.size() - 1;
    while (start > 0 && IsCont(static_cast<unsigned char>(s[start]))) --start;
    size_t next = start;
    char32_t cp;
    if (!NextCodePoint(s, &next, &cp) || next != s.size() || !IsSpace(cp)) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

bool ToAsciiNumber(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    if (!NextCodePoint(s, &i, &cp)) return false;
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (IsSpace(cp)) {
      out->push_back(' ');
    } else if (int d = DecimalValue(cp); d >= 0) {
      out->push_back(static_cast<char>('0' + d));
    } else {
      return false;
    }
  }
  return true;
}

bool ParseInt(std::string_view text, int base, bool* negative, uint64_t* magnitude) {
  std::string ascii;
  if (!ToAsciiNumber(text, &ascii)) return false;
  std::string_view s = ascii;
  auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  *negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    *negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (base == 16 && s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    if (!s.empty() && s[0] == '_') s.remove_prefix(1);  // "0x_1f" is valid
  }
  if (s.empty()) return false;
  uint64_t v = 0;
  bool prev_underscore = true;  // no leading underscore
  for (char c : s) {
    int d;
    if (c == '_') {
      if (prev_underscore) return false;
      prev_underscore = true;
      continue;
    }
    if ((d = HexDigitValue(c)) < 0 || d >= base) return false;
    prev_underscore = false;
    const uint64_t b = static_cast<uint64_t>(base);
    if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / b) return false;
    v = v * b + static_cast<uint64_t>(d);
  }
  if (prev_underscore) return false;
  *magnitude = v;
  return true;
}

}  // namespace replicant::pystr
