// libFuzzer target: a whole native receiver session fed arbitrary bytes as the sender,
// writing into a scratch devices dir. The session must end with a status (never a
// crash), and no file may ever appear outside that partition's dirs and the tmp dir.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "sync_backends/native/native_receiver.h"
#include "tests/fuzz/memory_stream.h"

using namespace replicant;
using namespace replicant::sync::native;
namespace fs = std::filesystem;

namespace {

const std::string& Devices() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/replicant-fuzz-XXXXXX";
    std::string d = mkdtemp(tmpl);
    fs::create_directories(d + "/sdb1/objects/7");
    return d;
  }();
  return dir;
}

// Everything under the devices dir must be inside sdb1/{objects/7,tmp} (+ lock files).
void CheckConfined(const std::string& root) {
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string rel = fs::relative(e.path(), root).string();
    if (rel == "sdb1" || rel == "sdb1/objects" || rel.rfind("sdb1/objects/7", 0) == 0 ||
        rel.rfind("sdb1/tmp", 0) == 0 || rel.rfind("sdb1/.lock", 0) == 0) {
      continue;
    }
    std::fprintf(stderr, "file outside the partition: %s\n", rel.c_str());
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& root = Devices();
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
  CheckConfined(root);
  // Nothing partial: the temp dir is empty once the session is over.
  std::error_code ec;
  if (fs::exists(root + "/sdb1/tmp") && !fs::is_empty(root + "/sdb1/tmp", ec)) {
    std::fprintf(stderr, "temp file left behind\n");
    abort();
  }
  fs::remove_all(root + "/sdb1/objects/7", ec);
  fs::create_directories(root + "/sdb1/objects/7", ec);
  return 0;
}
