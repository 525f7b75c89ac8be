// Scratch devices dirs for the fuzz targets that write objects: one per process, on
// tmpfs when there is one (/dev/shm: no fsync cost, user xattrs of any size), and
// checks that a session left nothing outside its partition. Not thread-safe.
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace replicant::fuzz {

// A new empty dir (removed at exit) holding <device>/objects/<partition>.
inline std::string MakeDevicesDir(const std::string& device, const std::string& partition) {
  namespace fs = std::filesystem;
  std::string base = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/replicant-fuzz-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    abort();
  }
  fs::create_directories(tmpl + "/" + device + "/objects/" + partition);
  static std::string to_remove;
  to_remove = tmpl;
  atexit([] {
    std::error_code ec;
    fs::remove_all(to_remove, ec);
  });
  return tmpl;
}

// Aborts when anything under root lies outside <device>/{objects/<partition>,tmp} and
// the device's lock files, or when a temp file was left behind.
inline void CheckConfined(const std::string& root, const std::string& device,
                          const std::string& partition) {
  namespace fs = std::filesystem;
  const std::string part = device + "/objects/" + partition;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string rel = fs::relative(e.path(), root).string();
    if (rel == device || rel == device + "/objects" || rel.rfind(part, 0) == 0 ||
        rel == device + "/tmp" || rel.rfind(device + "/.lock", 0) == 0) {
      continue;
    }
    std::fprintf(stderr, "file outside the partition: %s\n", rel.c_str());
    abort();
  }
  std::error_code ec;
  if (fs::exists(root + "/" + device + "/tmp") && !fs::is_empty(root + "/" + device + "/tmp", ec)) {
    std::fprintf(stderr, "temp file left behind\n");
    abort();
  }
}

}  // namespace replicant::fuzz
