// libFuzzer target: the native protocol's frame and message parsers on arbitrary bytes.
// Every frame read is decoded as every message type; string fields go through the path
// and hex validators. Nothing may crash, hang or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sync_backends/native/native_store.h"
#include "sync_backends/native/native_wire.h"
#include "tests/fuzz/memory_stream.h"

using namespace replicant;
using namespace replicant::sync::native;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemoryStream in(std::string_view(reinterpret_cast<const char*>(data), size));
  diskfile::PartitionLocation target{"/srv/node", "sdb1", "7", 0};
  for (int i = 0; i < 64; ++i) {
    auto j = ReadFrame(in, 1 << 20);
    if (!j.ok()) break;
    BeginReplicationRequest b;
    (void)FromJson(*j, &b);
    BeginReplicationResponse br;
    (void)FromJson(*j, &br);
    SyncFileRequest r;
    if (FromJson(*j, &r).ok()) {
      (void)ParseSyncPath(r.path, target);
      (void)HexDecode(r.xattrs);
    }
    SyncFileResponse sr;
    (void)FromJson(*j, &sr);
    BatchRequest batch;
    if (FromJson(*j, &batch, 64).ok()) {
      for (const auto& f : batch.files) (void)ParseSyncPath(f.path, target);
    }
    BatchResponse bresp;
    (void)FromJson(*j, &bresp, 64);
    BodyHeader h;
    (void)FromJson(*j, &h);
    (void)ToJson(r).dump();
  }
  (void)ReadChunk(in, 1 << 16);
  return 0;
}
