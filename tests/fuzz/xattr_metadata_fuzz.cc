// libFuzzer target: object metadata as read_metadata + _decode_metadata read the
// pickled xattr value. Whatever decodes must encode (Swift's protocol-2 bytes dict)
// and decode back to an equal dict; errors stay short however big the input's values.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "formats/peer_message.h"
#include "diskfile/object_metadata.h"

using namespace replicant;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto md = diskfile::DecodeMetadata(in);
  if (!md.ok()) {
    if (md.status().message().size() > 2 * kMaxPeerMessage) {
      std::fprintf(stderr, "error message of %zu bytes\n", md.status().message().size());
      abort();
    }
    return 0;
  }
  auto back = diskfile::DecodeMetadata(diskfile::EncodeMetadata(*md));
  if (!back.ok() || !(*back == *md)) {
    std::fprintf(stderr, "metadata does not decode back as encoded\n");
    abort();
  }
  return 0;
}
