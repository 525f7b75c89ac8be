#include "ops/progress_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace replicant {

std::string ProgressFilePath(const std::string& recon_cache_path,
                             std::optional<int> worker_index) {
  if (worker_index) {
    return recon_cache_path + "/replicant-progress.worker" + std::to_string(*worker_index) +
           ".json";
  }
  return recon_cache_path + "/" + kProgressFileName;
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    if (!out) return Status::FromErrno("open " + tmp, errno);
    out << text;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      return Status::IOError("write " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    return Status::FromErrno("rename " + tmp, e);
  }
  return Status::OK();
}

Result<nlohmann::json> ReadProgressFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::NotFound(path + ": no progress file (has the replicator run?)");
    return Status::FromErrno("open " + path, errno);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Corruption(path + ": not a JSON object");
  }
  return doc;
}

}  // namespace replicant
