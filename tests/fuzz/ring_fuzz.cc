// libFuzzer target: the v1 ring file (gzip, "R1NG", version, JSON header, rows).
// An input that starts with the gzip magic is read as the file itself (bad gzip,
// truncation, bombs); any other input is taken as the inflated contents and
// compressed here first, so mutations reach the header JSON and the rows. A ring
// that loads must answer primaries and the whole handoff walk for some partitions.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ring/ring.h"

using namespace replicant;

namespace {

std::string Deflate(std::string_view raw) {
  uLongf len = compressBound(raw.size());
  std::string out(len, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &len,
                reinterpret_cast<const Bytef*>(raw.data()), raw.size(), 1) != Z_OK) {
    abort();
  }
  out.resize(len);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  auto ring = Ring::FromGzip(gzip ? std::string(in) : Deflate(in), "fuzz.ring.gz");
  if (!ring.ok()) return 0;
  const Ring& r = **ring;
  (void)r.replica_count();
  uint32_t parts = r.partition_count();
  for (uint32_t part : {uint32_t{0}, parts / 2, parts - 1, parts}) {
    for (const Device* d : r.GetPartNodes(part)) {
      if (d == nullptr || r.device(d->id) != d) abort();
    }
    for (const Device* d : r.GetMoreNodes(part)) {
      if (d == nullptr || r.device(d->id) != d) abort();
    }
  }
  (void)r.GetNodes("a", "c", "o", "prefix", "suffix");
  return 0;
}
