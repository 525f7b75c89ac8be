#include "formats/peer_message.h"

namespace replicant {

size_t Utf8CutPoint(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  size_t cut = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the split sequence;
  // a sequence is at most 4 bytes, so bytes that are not UTF-8 cost at most 3.
  for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80; ++i) {
    --cut;
  }
  return cut;
}

std::string CapPeerMessage(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::string out(text.substr(0, Utf8CutPoint(text, max_bytes)));
  out += kTruncatedMarker;
  return out;
}

}  // namespace replicant
