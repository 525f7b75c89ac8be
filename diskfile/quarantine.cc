#include "diskfile/quarantine.h"

#include <cerrno>
#include <cstdio>
#include <random>

#include "diskfile/fs_util.h"
#include "diskfile/invalidate.h"
#include "diskfile/layout.h"
#include "formats/pystr.h"

namespace replicant::diskfile {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Uuid4Hex() {
  std::random_device rd;
  unsigned char b[16];
  for (auto& c : b) c = static_cast<unsigned char>(rd());
  b[6] = (b[6] & 0x0F) | 0x40;
  b[8] = (b[8] & 0x3F) | 0x80;
  char out[33];
  for (int i = 0; i < 16; ++i) std::snprintf(out + 2 * i, 3, "%02x", b[i]);
  return out;
}

// Swift's renamer(old, new, fsync=False): make the parent, rename, and on failure try
// both once more. Returns 0 or errno.
int Renamer(const std::string& from, const std::string& to) {
  std::string parent = fs::Dirname(to);
  int err = fs::MakeDirs(parent);
  if (err == 0 && std::rename(from.c_str(), to.c_str()) == 0) return 0;
  err = fs::MakeDirs(parent);
  if (err != 0) return err;
  return std::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

}  // namespace

int PolicyIndexOfPartition(const std::string& partition_dir) {
  std::string parent = fs::Basename(fs::Dirname(fs::StripTrailingSlashes(partition_dir)));
  if (parent.rfind("objects-", 0) != 0 || parent.size() == 8) return 0;
  int n = 0;
  for (size_t i = 8; i < parent.size(); ++i) {
    if (parent[i] < '0' || parent[i] > '9' || n > 100000000) return 0;
    n = n * 10 + (parent[i] - '0');
  }
  return std::to_string(n) == parent.substr(8) ? n : 0;
}

std::string QuarantineDataDir(const std::string& path, int known_policy) {
  size_t pos = path.rfind("objects");
  if (pos == std::string::npos) return DataDirName(0);
  size_t slash = path.find('/', pos);
  if (slash == std::string::npos) return DataDirName(0);
  std::string dir = path.substr(pos, slash - pos);
  // split_policy_string accepts "<base>-<N>" only when N is a known policy other than
  // 0, written canonically; everything else falls back to the legacy policy.
  if (known_policy > 0 && EndsWith(dir, "-" + std::to_string(known_policy))) {
    return DataDirName(known_policy);
  }
  return DataDirName(0);
}

Result<std::string> QuarantineRenamer(const std::string& device_path,
                                      const std::string& corrupted_file_path, int known_policy) {
  std::string from = fs::Dirname(corrupted_file_path);
  std::string name = fs::Basename(from);
  std::string to = fs::Join(
      fs::Join(fs::Join(device_path, "quarantined"), QuarantineDataDir(corrupted_file_path, known_policy)),
      name);
  // A 3-character name is taken for a suffix dir, so Swift invalidates "inside" it.
  Status s = pystr::Length(pystr::FromFsName(name)) == 3 ? InvalidateHash(from)
                                                         : InvalidateHash(fs::Dirname(from));
  if (!s.ok()) return s;
  int err = Renamer(from, to);
  if (err == EEXIST || err == ENOTEMPTY) {
    to += "-" + Uuid4Hex();
    err = Renamer(from, to);
  }
  if (err != 0) return Status::FromErrno("quarantine " + from + " to " + to, err);
  return to;
}

Result<std::string> QuarantineHashDir(const std::string& device_path,
                                      const std::string& hash_dir, int policy_index) {
  // quarantine_renamer moves the dir enclosing the path it is given: Swift's
  // "made-up-filename" trick names the hash dir itself.
  return QuarantineRenamer(device_path, hash_dir + "/made-up-filename", policy_index);
}

}  // namespace replicant::diskfile
