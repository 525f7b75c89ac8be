// Peer messages: error and log texts that quote what a peer sent.
//
// A peer decides how long a path, a header or an unpickled value is, so any text that
// quotes one is capped before it is logged or sent back (an {"Error": ...} frame, an
// ":ERROR:" line): one session must not make the server build, log or send hundreds
// of megabytes. The cap keeps the start of the text and says that it cut the rest.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace replicant {

// The longest message built from peer input, before the truncation marker.
inline constexpr size_t kMaxPeerMessage = 4096;
// Appended to a text that was cut.
inline constexpr std::string_view kTruncatedMarker = " (truncated)";

// `text` if it has at most max_bytes bytes; otherwise its first max_bytes bytes (fewer
// if that would split a UTF-8 sequence) followed by kTruncatedMarker.
std::string CapPeerMessage(std::string_view text, size_t max_bytes = kMaxPeerMessage);

// Where a cut at `max_bytes` lands so that no UTF-8 sequence of `text` is split.
size_t Utf8CutPoint(std::string_view text, size_t max_bytes);

}  // namespace replicant
