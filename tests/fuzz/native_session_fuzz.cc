// libFuzzer target: a whole native receiver session fed arbitrary bytes as the sender,
// writing into a scratch devices dir. The session must end with a status (never a
// crash), and no file may ever appear outside that partition's dirs and the tmp dir.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "sync_backends/native/native_receiver.h"
#include "tests/fuzz/memory_stream.h"
#include "tests/fuzz/scratch_dir.h"

using namespace replicant;
using namespace replicant::sync::native;
namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // On tmpfs (scratch_dir.h): a disk's fsyncs made this target ~50 inputs a second.
  static const std::string root = fuzz::MakeDevicesDir("sdb1", "7");
  NativeRequest req;
  req.target = {root, "sdb1", "7", 0};
  req.remote_addr = "fuzz";
  req.extensions = Extensions::All();
  req.max_frame = 1 << 20;
  req.max_batch_files = 16;
  req.delta_min_size = 64;
  req.replication_lock_timeout = 0.01;
  fuzz::MemoryStream in(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)HandleNativeSession(req, in);
  // Nothing outside the partition, and nothing partial left in tmp.
  fuzz::CheckConfined(root, "sdb1", "7");
  std::error_code ec;
  fs::remove_all(root + "/sdb1/objects/7", ec);
  fs::create_directories(root + "/sdb1/objects/7", ec);
  return 0;
}
