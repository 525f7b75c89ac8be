#include "diskfile/drive.h"

#include <sys/stat.h>

#include <cctype>

namespace replicant::diskfile {
namespace {

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

bool IsMount(const std::string& path) {
  struct stat st, parent;
  if (lstat(path.c_str(), &st) != 0) return false;
  if (S_ISLNK(st.st_mode)) return IsFile(path + "/.ismount");
  if (lstat((path + "/..").c_str(), &parent) != 0) return false;
  if (st.st_dev != parent.st_dev || st.st_ino == parent.st_ino) return true;
  return IsFile(path + "/.ismount");
}

Result<std::string> CheckDrive(const std::string& devices, const std::string& drive,
                               bool mount_check) {
  // quote_plus(drive) == drive: only characters quote_plus leaves alone.
  bool valid = !drive.empty();
  for (unsigned char c : drive) {
    valid &= isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~';
  }
  if (!valid) return Status::InvalidArgument(drive + " is not a valid drive name");
  // os.path.join(root, drive); "." and ".." pass quote_plus but never name a device.
  if (drive == "." || drive == "..") return Status::InvalidArgument(drive + " is not a device");
  std::string path = devices.empty() || devices.back() == '/' ? devices + drive
                                                               : devices + "/" + drive;
  if (mount_check) {
    if (!IsMount(path)) return Status::Unavailable(path + " is not mounted");
  } else if (!IsDir(path)) {
    return Status::Unavailable(path + " is not a directory");
  }
  return path;
}

}  // namespace replicant::diskfile
