// pystr: the few Python 3 str behaviours that Swift's on-disk logic depends on.
//
// Swift sees file names as Python str: os.listdir() decodes the raw bytes as UTF-8
// with "surrogateescape" (an undecodable byte b becomes U+DC00+b), len() counts code
// points, sorted() orders by code point, and pickle writes such a str with
// "surrogatepass". We hold a Python str as "generalized UTF-8" (UTF-8 that may encode
// surrogates), which is exactly what pickle stores, and whose byte order is code point
// order. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace replicant::pystr {

// os.fsdecode: raw file-name bytes -> the str os.listdir() returns (generalized UTF-8).
// Returns the input unchanged when it is valid UTF-8 (the common, ASCII case).
std::string FromFsName(std::string_view raw);
// os.fsencode: the inverse. False when s holds a surrogate that surrogateescape cannot
// encode (outside U+DC80..U+DCFF) or is malformed.
bool ToFsName(std::string_view s, std::string* out);

// len() of a str held as generalized UTF-8.
size_t Length(std::string_view s);

// True when bytes decode with Python's strict "utf-8" codec (no surrogates, no
// overlong forms, nothing above U+10FFFF).
bool IsStrictUtf8(std::string_view bytes);

// str.strip() with no arguments.
std::string_view Strip(std::string_view s);

// What float() and int() actually parse: Python first maps every non-ASCII Unicode
// whitespace to ' ' and every Unicode decimal digit to its ASCII digit, and refuses
// any other non-ASCII character (_PyUnicode_TransformDecimalAndSpaceToASCII).
bool ToAsciiNumber(std::string_view s, std::string* out);

// Python int(s, base) for base 10 or 16 (Unicode digits and spaces included): sign,
// optional "0x" (base 16), single underscores between digits. False when invalid or
// when the magnitude does not fit in 64 bits.
bool ParseInt(std::string_view s, int base, bool* negative, uint64_t* magnitude);
inline bool ParseHexInt(std::string_view s, bool* negative, uint64_t* magnitude) {
  return ParseInt(s, 16, negative, magnitude);
}

// Decodes the code point at s[*i] (generalized UTF-8) and advances *i; false when
// malformed.
bool NextCodePoint(std::string_view s, size_t* i, char32_t* cp);

}  // namespace replicant::pystr
