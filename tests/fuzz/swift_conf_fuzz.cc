// libFuzzer target: swift.conf as replication reads it (hash path prefix/suffix and the
// storage policies). A load fails with a status or yields a default policy.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "formats/swift_conf.h"

using namespace replicant;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto conf = ParseSwiftConf(in, "/etc/swift/swift.conf");
  if (!conf.ok()) return 0;
  if (conf->DefaultPolicy() == nullptr) abort();
  for (const StoragePolicy& p : conf->policies) {
    if (conf->FindPolicy(p.index) == nullptr) abort();
    (void)p.data_dir();
    (void)p.ring_name();
  }
  return 0;
}
