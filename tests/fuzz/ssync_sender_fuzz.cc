// libFuzzer target: the SSYNC sender reading an arbitrary de-chunked response body as
// the receiver's answers: the missing-check answer (wanted hashes, "d"/"m" parts,
// ":ERROR:" lines) and the final ":UPDATES:" answer. The partition holds the objects
// tests/fuzz/swift_sessions.py has Swift's sender offer (a .data, a .data with a newer .meta,
// a tombstone), so wanted hashes lead to real PUT, POST and DELETE subrequests.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <spdlog/spdlog.h>

#include "diskfile/layout.h"
#include "diskfile/object_writer.h"
#include "diskfile/timestamp.h"
#include "diskfile/object_metadata.h"
#include "sync_backends/ssync/ssync_sender.h"
#include "tests/fuzz/memory_stream.h"
#include "tests/fuzz/scratch_dir.h"

using namespace replicant;
using namespace replicant::sync;

namespace {

// SENDER_OBJECTS of swift_sessions.py: /a/c/o-data, /a/c/o-meta, /a/c/o-tomb hashed
// with its salt (make_seeds.py checks that these are the hashes Swift offered).
constexpr const char* kDataHash = "ca119be0831e3d10baf94677dbc1c6ec";
constexpr const char* kMetaHash = "dc51914dff8c01f14ecc7a8c648bde2a";
constexpr const char* kTombHash = "2194b501a267710bf28805d1ae55dcc1";

void Put(const std::string& devices, const char* name, const char* hash,
         diskfile::ObjectFileType type, const char* ts, const std::string& body) {
  std::string dir = diskfile::HashDirFor(devices, "sdb1", 0, 7, hash);
  auto w = diskfile::ObjectWriter::Create(devices + "/sdb1", dir);
  if (!w.ok() || !(*w)->Write(body).ok()) abort();
  diskfile::Metadata md{{"name", name}, {"X-Timestamp", ts}};
  if (type == diskfile::ObjectFileType::kData) md.Set("Content-Type", "text/plain");
  if (type == diskfile::ObjectFileType::kMeta) md.Set("X-Object-Meta-Color", "blue");
  if (!(*w)->Put(type, md).ok()) abort();
}

SyncJob MakeJob() {
  spdlog::set_level(spdlog::level::off);
  std::string devices = fuzz::MakeDevicesDir("sdb1", "7");
  using T = diskfile::ObjectFileType;
  Put(devices, "/a/c/o-data", kDataHash, T::kData, "1900000000.00000", "hello fuzzer");
  Put(devices, "/a/c/o-meta", kMetaHash, T::kData, "1900000000.00000", "hello fuzzer");
  Put(devices, "/a/c/o-meta", kMetaHash, T::kMeta, "1900000001.00000", "");
  Put(devices, "/a/c/o-tomb", kTombHash, T::kTombstone, "1900000002.00000", "");
  SyncJob job;
  job.device = "sdb1";
  job.partition = "7";
  job.obj_path = devices + "/sdb1/objects";
  job.path = job.obj_path + "/7";
  return job;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const SyncJob job = MakeJob();
  ssync::SenderOptions opts;
  ssync::SsyncSender sender(opts, job, {"6ec", "e2a", "dc1"});
  fuzz::MemoryStream request("");
  fuzz::MemoryStream response(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)sender.Run(request, response);
  return 0;
}
