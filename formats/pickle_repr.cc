// Value::Repr(): Python's repr() for the supported types, for logs and tests.
//
// Exact for None, bool, int, float (shortest round-trip digits, Python's switch to
// exponent notation), bytes and ASCII/Latin-1 text. For other text, Python consults
// the Unicode database to decide what is printable; this approximates it with the
// common non-printable ranges (controls, separators, format chars, surrogates,
// private use). Repr(max_bytes) stops walking once it has that much output, so a
// value that memo references expand to gigabytes costs only what is printed.
#include <charconv>
#include <cmath>
#include <cstdio>

#include "formats/peer_message.h"
#include "formats/pickle.h"
#include "formats/pickle_internal.h"

namespace replicant::pickle {
namespace {

void AppendHex(uint32_t v, int digits, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out->push_back(kHex[(v >> shift) & 0xF]);
}

bool IsPrintable(uint32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c < 0x100) return true;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
      (c >= 0x205F && c <= 0x206F) || c == 0x3000 || c == 0xFEFF ||
      (c >= 0xFFF9 && c <= 0xFFFB) || c == 0xFFFE || c == 0xFFFF) {
    return false;
  }
  if (c >= 0x600 && c <= 0x605) return false;
  if (c >= 0xD800 && c <= 0xF8FF) return false;  // surrogates, private use
  if (c >= 0xE0000 && c <= 0xE0FFF) return false;  // tags, variation selectors supplement
  if (c >= 0xF0000) return false;  // supplementary private use
  return true;
}

// Python picks ' unless the text has ' and no ".
char QuoteFor(std::string_view s) {
  bool single = s.find('\'') != std::string_view::npos;
  bool dbl = s.find('"') != std::string_view::npos;
  return single && !dbl ? '"' : '\'';
}

bool AppendCommonEscape(uint32_t c, char quote, std::string* out) {
  switch (c) {
    case '\\': *out += "\\\\"; return true;
    case '\t': *out += "\\t"; return true;
    case '\n': *out += "\\n"; return true;
    case '\r': *out += "\\r"; return true;
    default:
      if (c == static_cast<uint8_t>(quote)) {
        out->push_back('\\');
        out->push_back(quote);
        return true;
      }
      return false;
  }
}

void ReprStr(std::string_view s, size_t limit, std::string* out) {
  char quote = QuoteFor(s);
  out->push_back(quote);
  size_t pos = 0;
  while (pos < s.size() && out->size() <= limit) {
    uint32_t c;
    size_t start = pos;
    if (!internal::NextCodePoint(s, &pos, &c)) {
      // Not UTF-8 (a Python 2 str loaded raw): show the byte like surrogateescape.
      c = 0xDC00 | static_cast<uint8_t>(s[start]);
      pos = start + 1;
    }
    if (AppendCommonEscape(c, quote, out)) continue;
    if (c >= 0x20 && c < 0x7F) {
      out->push_back(static_cast<char>(c));
    } else if (IsPrintable(c)) {
      out->append(s.substr(start, pos - start));
    } else if (c <= 0xFF) {
      *out += "\\x";
      AppendHex(c, 2, out);
    } else if (c <= 0xFFFF) {
      *out += "\\u";
      AppendHex(c, 4, out);
    } else {
      *out += "\\U";
      AppendHex(c, 8, out);
    }
  }
  out->push_back(quote);
}

void ReprBytes(std::string_view s, size_t limit, std::string* out) {
  char quote = QuoteFor(s);
  *out += 'b';
  out->push_back(quote);
  for (char ch : s) {
    if (out->size() > limit) break;
    uint8_t c = static_cast<uint8_t>(ch);
    if (AppendCommonEscape(c, quote, out)) continue;
    if (c < 0x20 || c >= 0x7F) {
      *out += "\\x";
      AppendHex(c, 2, out);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back(quote);
}

// float.__repr__: shortest round-trip digits; exponent form when the decimal
// exponent is below -4 or at least 16.
void ReprFloat(double d, std::string* out) {
  if (std::isnan(d)) {
    *out += "nan";
    return;
  }
  if (std::isinf(d)) {
    *out += d < 0 ? "-inf" : "inf";
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);  // [-]d[.ddd]e(+|-)XX
  bool neg = sci[0] == '-';
  if (neg) sci.remove_prefix(1);
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = std::stoi(std::string(sci.substr(e + 1)));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int decpt = exp10 + 1;  // digits are 0.DIGITS * 10^decpt
  if (neg) out->push_back('-');
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      *out += "0.";
      out->append(static_cast<size_t>(-decpt), '0');
      *out += digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      *out += digits;
      out->append(decpt - digits.size(), '0');
      *out += ".0";
    } else {
      *out += digits.substr(0, decpt);
      out->push_back('.');
      *out += digits.substr(decpt);
    }
    return;
  }
  out->push_back(digits[0]);
  if (digits.size() > 1) {
    out->push_back('.');
    *out += digits.substr(1);
  }
  char ebuf[16];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  *out += ebuf;
}

// Appends repr(v) to *out, or stops early once *out is longer than `limit` (the
// caller then cuts it): the walk never visits more than `limit` values.
void ReprTo(const Value& v, size_t limit, std::string* out) {
  if (out->size() > limit) return;
  switch (v.type()) {
    case Value::Type::kNone:
      *out += "None";
      break;
    case Value::Type::kBool:
      *out += v.as_bool() ? "True" : "False";
      break;
    case Value::Type::kInt:
      *out += std::to_string(v.as_int());
      break;
    case Value::Type::kFloat:
      ReprFloat(v.as_float(), out);
      break;
    case Value::Type::kStr:
      ReprStr(v.as_string(), limit, out);
      break;
    case Value::Type::kBytes:
      ReprBytes(v.as_string(), limit, out);
      break;
    case Value::Type::kList:
    case Value::Type::kTuple: {
      bool list = v.type() == Value::Type::kList;
      out->push_back(list ? '[' : '(');
      const List& items = v.items();
      for (size_t i = 0; i < items.size() && out->size() <= limit; ++i) {
        if (i) *out += ", ";
        ReprTo(items[i], limit, out);
      }
      if (!list && items.size() == 1) out->push_back(',');
      out->push_back(list ? ']' : ')');
      break;
    }
    case Value::Type::kDict: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, val] : v.dict()) {
        if (out->size() > limit) break;
        if (!first) *out += ", ";
        first = false;
        ReprTo(k, limit, out);
        *out += ": ";
        ReprTo(val, limit, out);
      }
      out->push_back('}');
      break;
    }
  }
}

}  // namespace

std::string Value::Repr() const {
  std::string out;
  ReprTo(*this, SIZE_MAX, &out);
  return out;
}

std::string Value::Repr(size_t max_bytes) const {
  std::string out;
  ReprTo(*this, max_bytes, &out);
  return CapPeerMessage(out, max_bytes);
}

}  // namespace replicant::pickle
