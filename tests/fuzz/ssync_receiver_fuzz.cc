// libFuzzer target: the SSYNC receiver fed an arbitrary de-chunked request body as the
// sender: ":MISSING_CHECK:" lines (hash, timestamps, deltas), then ":UPDATES:"
// subrequests (method and path lines, header lines, bodies), writing into a scratch
// partition. The session must end with a status, never a crash; nothing may appear
// outside the partition and no temp file may be left behind.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include <spdlog/spdlog.h>

#include "sync_backends/ssync/ssync_receiver.h"
#include "tests/fuzz/memory_stream.h"
#include "tests/fuzz/scratch_dir.h"

using namespace replicant;
using namespace replicant::sync::ssync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string root = [] {
    spdlog::set_level(spdlog::level::off);
    return fuzz::MakeDevicesDir("sdb1", "7");
  }();
  SsyncRequest req;
  req.devices_dir = root;
  req.device = "sdb1";
  req.partition = "7";
  req.remote_addr = "fuzz";
  // The salt make_seeds.py gives Swift's sender, so seeded PUTs land where offered.
  req.hash_path_prefix = "";
  req.hash_path_suffix = "fuzz";
  req.client_timeout = 1;
  req.replication_lock_timeout = 0.01;
  req.replication_failure_threshold = 4;
  fuzz::MemoryStream body(std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::MemoryStream response("");
  (void)HandleSsync(req, body, response);
  fuzz::CheckConfined(root, "sdb1", "7");
  std::error_code ec;
  std::filesystem::remove_all(root + "/sdb1/objects/7", ec);
  std::filesystem::create_directories(root + "/sdb1/objects/7", ec);
  return 0;
}
