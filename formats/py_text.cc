#include "formats/py_text.h"

#include "formats/pystr.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <iterator>
#include <cstdlib>
#include <limits>

namespace replicant::py {

bool IsSpace(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

Text Strip(const Text& t) {
  size_t b = 0, e = t.size();
  while (b < e && IsSpace(t[b])) ++b;
  while (e > b && IsSpace(t[e - 1])) --e;
  return t.substr(b, e - b);
}

Text RStrip(const Text& t) {
  size_t e = t.size();
  while (e > 0 && IsSpace(t[e - 1])) --e;
  return t.substr(0, e);
}

Text Lower(const Text& t) {
  Text out = t;
  for (char32_t& c : out)
    if ((c >= U'A' && c <= U'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) c += 0x20;
  return out;
}

std::vector<Text> SplitLines(const Text& t) {
  std::vector<Text> lines;
  Text cur;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == U'\r' || t[i] == U'\n') {
      if (t[i] == U'\r' && i + 1 < t.size() && t[i + 1] == U'\n') ++i;
      lines.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += t[i];
    }
  }
  if (!cur.empty()) lines.push_back(std::move(cur));
  return lines;
}

namespace {

// One UTF-8 sequence at s[i]; 0 when malformed (overlong, surrogate, > U+10FFFF).
size_t DecodeOne(std::string_view s, size_t i, char32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) { *cp = c; return 1; }
  size_t n;
  char32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; v = c & 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; v = c & 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; v = c & 0x07; min = 0x10000; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

// UTF-8 with surrogateescape: a lone surrogate U+DC80..U+DCFF is the raw byte it
// stands for.
void AppendUtf8Escaped(char32_t c, std::string* out) {
  if (c >= 0xDC80 && c <= 0xDCFF) {
    out->push_back(static_cast<char>(c - 0xDC00));
  } else {
    AppendUtf8(c, out);
  }
}

}  // namespace

bool Decode(std::string_view bytes, ConfigOptions::Encoding enc, Text* out) {
  out->clear();
  if (enc == ConfigOptions::Encoding::kLatin1) {
    for (char c : bytes) out->push_back(static_cast<unsigned char>(c));
    return true;
  }
  for (size_t i = 0; i < bytes.size();) {
    char32_t cp;
    size_t n = DecodeOne(bytes, i, &cp);
    if (n == 0) return false;
    out->push_back(cp);
    i += n;
  }
  return true;
}

std::string Encode(const Text& t, ConfigOptions::Encoding enc) {
  std::string out;
  for (char32_t c : t) {
    if (enc == ConfigOptions::Encoding::kLatin1) out.push_back(static_cast<char>(c));
    else AppendUtf8Escaped(c, &out);
  }
  return out;
}

std::string Repr(const Text& t) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "'";
  for (char32_t c : t) {
    if (c == U'\\' || c == U'\'') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == U'\n') {
      out += "\\n";
    } else if (c == U'\t') {
      out += "\\t";
    } else if (c == U'\r') {
      out += "\\r";
    } else if (c < 0x20 || (c >= 0x7F && c < 0xA0)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(c >> shift) & 15];
    } else {
      AppendUtf8Escaped(c, &out);
    }
  }
  return out + "'";
}

std::string StripUtf8(std::string_view s) {
  Text t;
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    size_t n = DecodeOne(s, i, &cp);
    if (n == 0) {
      t.push_back(0xDC00 + static_cast<unsigned char>(s[i]));
      n = 1;
    } else {
      t.push_back(cp);
    }
    i += n;
  }
  return Encode(Strip(t), ConfigOptions::Encoding::kUtf8);
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::string Quote(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : Latin1ToUtf8(s)) {
    if (isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace replicant::py

namespace replicant {

namespace {

// _PyUnicode_TransformDecimalAndSpaceToASCII (pystr::ToAsciiNumber), then the
// ASCII-only strip that int() and float() apply.
bool ToAsciiNumber(std::string_view sv, std::string* out) {
  std::string s;
  if (!pystr::IsStrictUtf8(sv) || !pystr::ToAsciiNumber(sv, &s)) return false;
  const char* kSpace = " \t\n\r\v\f";
  size_t b = s.find_first_not_of(kSpace), e = s.find_last_not_of(kSpace);
  *out = b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  return true;
}

// Python's digit groups: digits with single '_' between them (PEP 515). Appends the
// digits to *out and advances *i; false when malformed or empty.
bool DigitPart(const std::string& s, size_t* i, std::string* out) {
  size_t start = out->size();
  while (*i < s.size()) {
    char c = s[*i];
    if (c >= '0' && c <= '9') {
      out->push_back(c);
      ++*i;
    } else if (c == '_' && out->size() > start && *i + 1 < s.size() && s[*i + 1] >= '0' &&
               s[*i + 1] <= '9') {
      ++*i;
    } else {
      break;
    }
  }
  return out->size() > start;
}

}  // namespace

Result<int64_t> ParsePythonInt(std::string_view sv) {
  std::string s;
  if (!ToAsciiNumber(sv, &s))
    return Status::InvalidArgument("invalid literal for int(): '" + std::string(sv) + "'");
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  std::string digits;
  if (!DigitPart(s, &i, &digits) || i != s.size())
    return Status::InvalidArgument("invalid literal for int(): '" + std::string(sv) + "'");
  const uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (char c : digits) {
    if (v > (limit - (c - '0')) / 10)
      return Status::InvalidArgument("integer out of range: '" + std::string(sv) + "'");
    v = v * 10 + (c - '0');
  }
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

Result<double> ParsePythonFloat(std::string_view sv) {
  auto bad = [&] {
    return Status::InvalidArgument("could not convert string to float: '" + std::string(sv) +
                                   "'");
  };
  std::string s;
  if (!ToAsciiNumber(sv, &s)) return bad();
  size_t i = 0;
  std::string clean;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean.push_back(s[i++]);
  std::string word;
  for (size_t k = i; k < s.size(); ++k)
    word.push_back(static_cast<char>(s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]));
  if (word == "inf" || word == "infinity" || word == "nan") {
    clean += word;
  } else {
    bool int_part = DigitPart(s, &i, &clean);
    bool frac_part = false;
    if (i < s.size() && s[i] == '.') {
      clean.push_back(s[i++]);
      frac_part = DigitPart(s, &i, &clean);
    }
    if (!int_part && !frac_part) return bad();
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      clean.push_back(s[i++]);
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean.push_back(s[i++]);
      if (!DigitPart(s, &i, &clean)) return bad();
    }
    if (i != s.size()) return bad();
  }
  // Validated above, so strtod (correctly rounded, C locale) sees only this grammar.
  return std::strtod(clean.c_str(), nullptr);
}

}  // namespace replicant
