// py_text: the few Python 3 str operations that Swift's config parsing depends on.
//
// ConfigParser works on decoded text, and Python's idea of whitespace (str.strip,
// regex \s) and of lowercase (str.lower) decides what a key or value is. Text is a
// sequence of code points. Also the quoting Swift's messages use (urllib's quote of a
// WSGI string). All functions are pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "formats/config.h"

namespace replicant::py {

using Text = std::u32string;

// str.isspace() (identical to re's \s for str patterns).
bool IsSpace(char32_t c);
Text Strip(const Text& t);
Text RStrip(const Text& t);
// str.lower() for ASCII and Latin-1; other code points are left unchanged.
Text Lower(const Text& t);
// Text-mode file iteration with universal newlines: "\r\n", "\r" and "\n" end a line.
// Terminators are dropped.
std::vector<Text> SplitLines(const Text& t);

// kLatin1: one byte, one code point. kUtf8: strict (as Python's codec), false on
// malformed input.
bool Decode(std::string_view bytes, ConfigOptions::Encoding enc, Text* out);
std::string Encode(const Text& t, ConfigOptions::Encoding enc);
// repr(): quoted, with control characters and surrogates escaped; UTF-8. For messages,
// which must stay printable whatever bytes a config holds.
std::string Repr(const Text& t);
// str.strip() of UTF-8 text; bytes that are not UTF-8 are kept as they are.
std::string StripUtf8(std::string_view s);

// Appends cp as UTF-8, lone surrogates included (Python's "surrogatepass"): how a
// Python str that came from raw-unicode-escape, UTF-16 or surrogateescape is held.
void AppendUtf8(char32_t cp, std::string* out);
// Swift works on WSGI strings (each byte a Latin-1 character) and encodes them as
// UTF-8 when it builds a body, so a byte >= 0x80 comes out as two.
std::string Latin1ToUtf8(std::string_view s);
// urllib.parse.quote(s) with safe '/' (Python 3.7+: '~' unreserved) of a WSGI string,
// for messages.
std::string Quote(std::string_view s);

}  // namespace replicant::py
