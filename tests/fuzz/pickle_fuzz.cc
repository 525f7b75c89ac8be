// libFuzzer target: the unpickler (protocols 0-5, Python 2 and 3 writers) on arbitrary
// bytes. A load either fails with a status or gives a value that Dumps() writes and
// Loads() reads back; printing it for a peer (Repr with a cap) stays within the cap.
// The load's own CPU and memory bounds are what -timeout and -rss_limit_mb check.
// The flat-dict fast path (pickle_flat.h) accepts only what Loads accepts, meaning the
// same: a dict whose entries, assigned in order, are Loads' dict.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "formats/peer_message.h"
#include "formats/pickle.h"
#include "formats/pickle_flat.h"

using namespace replicant;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto v = pickle::Loads(in);
  if (auto flat = pickle::LoadFlatDict(in)) {
    if (!v.ok() || !v->is_dict()) {
      std::fprintf(stderr, "the flat path took what Loads does not\n");
      abort();
    }
    pickle::Value d = pickle::Value::MakeDict();
    for (const auto& e : *flat) d.Set(e.key, pickle::ToValue(e.value));
    if (pickle::Dumps(d) != pickle::Dumps(*v)) {
      std::fprintf(stderr, "the flat path read another dict\n");
      abort();
    }
  }
  if (!v.ok()) {
    // Error texts quote the input: they must stay short whatever it holds.
    if (v.status().message().size() > 2 * kMaxPeerMessage) {
      std::fprintf(stderr, "error message of %zu bytes\n", v.status().message().size());
      abort();
    }
    return 0;
  }
  std::string repr = v->Repr(kMaxPeerMessage);
  if (repr.size() > kMaxPeerMessage + kTruncatedMarker.size()) abort();
  std::string again = pickle::Dumps(*v);
  auto back = pickle::Loads(again);
  if (!back.ok()) {
    std::fprintf(stderr, "Dumps output does not load: %s\n", back.status().message().c_str());
    abort();
  }
  return 0;
}
