// libFuzzer target: hashes.pkl as read_hashes reads it (ParseHashes, what ReadHashes
// runs on the file's bytes). Never fails; what it gives must write back (the protocol-2
// pickle WriteHashes would store) and read back equal.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "formats/pickle.h"
#include "hashes/hashes_file.h"

using namespace replicant;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  hashes::HashesDict d = hashes::ParseHashes(in);
  // A dict read with its own 'valid' and 'updated' reads back exactly as written; any
  // other gets read_hashes' defaults once, and is then stable.
  hashes::HashesDict back = hashes::ParseHashes(pickle::Dumps(d.ToPickle()));
  hashes::HashesDict again = hashes::ParseHashes(pickle::Dumps(back.ToPickle()));
  if ((d.as_on_disk && !back.Equals(d)) || !again.Equals(back)) {
    std::fprintf(stderr, "hashes.pkl does not read back as written\n");
    abort();
  }
  return 0;
}
