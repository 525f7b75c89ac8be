// Token-level helpers shared by the HTTP request and response parsers: optional
// whitespace, comma-separated header tokens, the chunked transfer coding, percent-
// decoding, and a printable excerpt of a bad line for error messages.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace replicant::net {

// s without leading and trailing spaces and tabs (RFC 9110 OWS).
std::string_view TrimOws(std::string_view s);
// Whether a comma-separated header value ("keep-alive, Upgrade") holds token
// (lower-case), compared case-insensitively; false for a missing header.
bool HasToken(const std::string* value, std::string_view token);
// Whether chunked is the last of these transfer codings (RFC 9112 6.1), which alone
// makes a body chunked.
bool LastCodingIsChunked(std::string_view transfer_encoding);
// Percent-decodes a path ("%2F" becomes '/'; a stray '%' stays as it is), as WSGI's
// PATH_INFO and Python's unquote (to bytes) do.
std::string PercentDecode(std::string_view s);
// At most 80 bytes of s, control and non-ASCII bytes as \xNN, "..." when cut.
std::string Printable(std::string_view s);

}  // namespace replicant::net
