#include "diskfile/invalidate.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "diskfile/fs_util.h"
#include "diskfile/partition_lock.h"
#include "formats/pystr.h"

namespace replicant::diskfile {

Status InvalidateHash(const std::string& suffix_dir) {
  return InvalidateHashes(fs::Dirname(suffix_dir), {fs::Basename(suffix_dir)});
}

Status InvalidateHashes(const std::string& partition_dir, const std::vector<std::string>& suffixes) {
  std::string lines;
  for (const auto& suffix : suffixes) {
    // Swift fails here too (suffix.encode('utf-8') raises); writing the raw bytes would
    // make every later consolidation fail on the undecodable line.
    if (!pystr::IsStrictUtf8(suffix)) {
      return Status::InvalidArgument(fs::Join(partition_dir, suffix) +
                                     ": suffix name is not UTF-8");
    }
    lines += suffix + "\n";
  }
  if (lines.empty()) return Status::OK();
  Result<PartitionLock> lock = PartitionLock::Acquire(partition_dir);
  if (!lock.ok()) return lock.status();
  std::string path = fs::Join(partition_dir, kInvalidationsFile);
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  int err = fs::WriteAll(fd, lines);
  close(fd);
  if (err != 0) return Status::FromErrno("append to " + path, err);
  return Status::OK();
}

}  // namespace replicant::diskfile
