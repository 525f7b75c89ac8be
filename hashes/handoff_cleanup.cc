#include "hashes/handoff_cleanup.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace replicant::hashes {

HandoffCleanup DeleteHandoffObjects(const std::string& partition_dir,
                                    const std::set<std::string>& hashes) {
  namespace fs = std::filesystem;
  HandoffCleanup out;
  for (const std::string& hash : hashes) {
    if (hash.size() < 3 || hash.find('/') != std::string::npos) continue;
    std::string suffix_dir = partition_dir + "/" + hash.substr(hash.size() - 3);
    std::error_code ec;
    if (fs::remove_all(suffix_dir + "/" + hash, ec) > 0) ++out.removed;
    if (rmdir(suffix_dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY &&
        errno != EEXIST) {
      out.error_paths.push_back(suffix_dir + "/" + hash);
      out.errors.push_back("Unexpected error trying to cleanup suffix dir " + suffix_dir + ": " +
                           std::strerror(errno));
    }
  }
  // Other suffixes may have been empty from the start; what still holds something
  // keeps the partition.
  std::error_code ec;
  bool suffix_left = false;
  for (const auto& e : fs::directory_iterator(partition_dir, ec)) {
    std::string name = e.path().filename();
    std::error_code ec2;
    if (name.size() != 3 || !e.is_directory(ec2)) continue;
    if (rmdir(e.path().c_str()) != 0) suffix_left = true;
  }
  if (!ec && !suffix_left && out.error_paths.empty()) {
    fs::remove_all(partition_dir, ec);
    out.partition_removed = !ec;
  }
  return out;
}

}  // namespace replicant::hashes
