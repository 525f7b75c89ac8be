#include "sync_backends/native/native_store.h"

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "base/text.h"
#include "diskfile/layout.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/fs_util.h"

namespace replicant::sync::native {
namespace {

bool IsHex32(std::string_view s) { return s.size() == 32 && IsLowerHex(s); }

Status Refuse(std::string_view path, std::string_view why) {
  std::string shown(path.substr(0, 300));
  return Status::InvalidArgument(fmt::format("bad file path '{}': {}", shown, why));
}

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  for (;;) {
    size_t slash = s.find('/', pos);
    out.push_back(s.substr(pos, slash == std::string_view::npos ? slash : slash - pos));
    if (slash == std::string_view::npos) return out;
    pos = slash + 1;
  }
}

}  // namespace

Result<ObjectFilePath> ParseSyncPath(std::string_view path, const diskfile::PartitionLocation& t) {
  if (path.size() > 1024) return Refuse(path, "too long");
  if (path.find('\0') != std::string_view::npos) return Refuse(path, "NUL byte");
  auto parts = Split(path);
  if (parts.size() != 6) return Refuse(path, "expected device/objects/part/suffix/hash/file");
  for (auto p : parts) {
    if (p.empty() || p == "." || p == "..") return Refuse(path, "empty, . or .. component");
  }
  if (parts[0] != t.device) return Refuse(path, "not this session's device");
  if (parts[1] != diskfile::DataDirName(t.policy_index)) return Refuse(path, "not this policy");
  if (parts[2] != t.partition) return Refuse(path, "not this session's partition");
  if (!IsHex32(parts[4])) return Refuse(path, "hash is not 32 lower-case hex digits");
  if (parts[3] != parts[4].substr(29)) return Refuse(path, "suffix does not match the hash");
  auto file = diskfile::ParseOnDiskFilename(parts[5]);
  if (!file.ok() || (file->ext != ".data" && file->ext != ".ts" && file->ext != ".meta")) {
    return Refuse(path, "not a .data, .ts or .meta file name");
  }
  std::string canonical =
      diskfile::OnDiskFilename(file->timestamp, file->ext.substr(1), file->ctype_timestamp);
  if (canonical != parts[5]) return Refuse(path, "file name is not canonical (" + canonical + ")");
  ObjectFilePath out;
  out.suffix = std::string(parts[3]);
  out.hash = std::string(parts[4]);
  out.filename = std::string(parts[5]);
  out.hash_dir = t.dir() + "/" + out.suffix + "/" + out.hash;
  out.file = std::move(*file);
  return out;
}

Offer DecideOffer(const std::vector<std::string>& present, const std::string& offered) {
  if (std::find(present.begin(), present.end(), offered) != present.end()) return Offer::kExists;
  std::vector<std::string> names = present;
  names.push_back(offered);
  std::sort(names.rbegin(), names.rend());  // Swift's cleanup order
  diskfile::OnDiskFiles files = diskfile::GetOnDiskFiles(std::move(names));
  for (const auto& f : files.obsolete) {
    if (f.name == offered) return Offer::kNewerExists;
  }
  return Offer::kGoAhead;
}

Result<std::vector<std::string>> ListHashDir(const std::string& hash_dir) {
  std::vector<std::string> names;
  int err = diskfile::fs::ListDir(hash_dir, &names);
  if (err == ENOENT) return std::vector<std::string>{};
  if (err != 0) return Status::FromErrno("listdir " + hash_dir, err);
  return names;
}

std::optional<std::string> CurrentDataFile(const std::vector<std::string>& names) {
  std::vector<std::string> sorted = names;
  std::sort(sorted.rbegin(), sorted.rend());
  diskfile::OnDiskFiles files = diskfile::GetOnDiskFiles(std::move(sorted));
  if (!files.data_info) return std::nullopt;
  return files.data_info->name;
}

}  // namespace replicant::sync::native
