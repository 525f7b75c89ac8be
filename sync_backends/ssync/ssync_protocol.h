// SSYNC protocol text: the line formats both ends of Swift 2.30's SSYNC exchange.
//
// An SSYNC session is one HTTP request with a chunked body in both directions. The
// sender offers "<hash> <ts_data>[ m:<hex>,t:<hex>,durable:False]" lines between
// ":MISSING_CHECK: START" and ":MISSING_CHECK: END" (encode_missing); the receiver
// answers with "<hash> <d|m|dm>" lines for what it wants (encode_wanted); then the
// sender sends PUT/POST/DELETE subrequests between ":UPDATES: START" and
// ":UPDATES: END". Failures travel in the response body as ":ERROR: <status> <repr>".
//
// This file holds only the pure text codecs (no I/O, no disk); all functions are
// stateless and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/text.h"  // LowerAscii, SecondsText
#include "diskfile/timestamp.h"

namespace replicant::sync::ssync {

inline constexpr std::string_view kMissingCheckStart = ":MISSING_CHECK: START";
inline constexpr std::string_view kMissingCheckEnd = ":MISSING_CHECK: END";
inline constexpr std::string_view kUpdatesStart = ":UPDATES: START";
inline constexpr std::string_view kUpdatesEnd = ":UPDATES: END";
inline constexpr std::string_view kErrorPrefix = ":ERROR:";

// What the sender knows about one object (Swift's yield_hashes timestamps).
struct MissingEntry {
  std::string object_hash;
  Timestamp ts_data;
  Timestamp ts_meta;   // == ts_data when there is no newer .meta
  Timestamp ts_ctype;  // == ts_data when there is no newer content-type
  bool durable = true;
};

// Swift's encode_missing (without the trailing "\r\n"). ts_meta/ts_ctype are
// optional as yield_hashes gives them; deltas are in 1e-5 s units, lower-case hex.
std::string EncodeMissing(std::string_view object_hash, const Timestamp& ts_data,
                          const std::optional<Timestamp>& ts_meta,
                          const std::optional<Timestamp>& ts_ctype, bool durable = true);

// Swift's decode_missing, plus the validation Swift leaves out: the hash must be 32
// lower-case hex digits (it becomes a path), timestamps must parse, the line must be
// printable ASCII. InvalidArgument names what is wrong.
Result<MissingEntry> DecodeMissing(std::string_view line);

// What the receiver holds locally (Swift's _check_local result).
struct LocalState {
  bool exists = false;  // false: Swift's {} (nothing usable here)
  Timestamp ts_data;
  std::optional<Timestamp> ts_meta;   // only for a .data
  std::optional<Timestamp> ts_ctype;  // only for a .data
};

// Swift's encode_wanted: "<hash> d", "<hash> m", "<hash> dm", or nullopt when the
// receiver is in sync.
std::optional<std::string> EncodeWanted(const MissingEntry& remote, const LocalState& local);

struct Wanted {
  bool data = false;
  bool meta = false;
};
// Swift's decode_wanted of the parts after the hash (a legacy receiver that sends
// only the hash wants data).
Wanted DecodeWanted(std::string_view parts);

// ":ERROR: <status> <repr(msg)>\n" as Swift's receiver writes it: msg as a Python str
// repr ('...'), or, for an HTTP error response body, as a bytes repr (b'...').
std::string ErrorLine(int status, std::string_view msg, bool bytes_body = false);
// What a receiver with no free replication slot says (swob.HTTPServiceUnavailable()).
std::string ServiceUnavailableLine();

// Python repr() of a str given as UTF-8, and of bytes.
std::string PyRepr(std::string_view text);
std::string PyBytesRepr(std::string_view bytes);

// urllib.parse.quote(s) with safe='/', over the raw bytes; and unquote (invalid
// escapes are kept literally, as Python does).
std::string UrlQuote(std::string_view s);
std::string UrlUnquote(std::string_view s);

// Python bytes.strip(): ASCII whitespace (space, \t, \n, \r, \v, \f).
std::string_view StripAscii(std::string_view s);
// bytes.title() / str.title() for ASCII: a letter after a letter is lower-cased,
// any other letter upper-cased. Other bytes are left alone and count as non-letters.
std::string TitleAscii(std::string_view s);

// Swift's check_utf8: strict UTF-8 and no NUL byte.
bool IsUtf8NoNul(std::string_view s);

// Parses a Content-Length the way Python int() does after strip: optional sign,
// decimal digits, single underscores between digits. nullopt when invalid.
std::optional<int64_t> ParsePyInt(std::string_view s);

}  // namespace replicant::sync::ssync
