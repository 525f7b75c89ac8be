// fs_util: small POSIX helpers for the hashes module, with Python's path semantics.
//
// Swift builds paths with os.path.join/dirname/basename and lists directories with
// os.listdir; these mirror those exactly so that derived paths (the device of a
// partition, a quarantine target) are the ones Swift would use. Functions return an
// errno (0 on success) rather than a Status where the caller must branch on the kind
// of failure, as Swift does. All are thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace replicant::diskfile::fs {

// os.path.dirname / basename / join (posixpath).
std::string Dirname(std::string_view p);
std::string Basename(std::string_view p);
std::string Join(std::string_view a, std::string_view b);
// Drops trailing slashes ("/a/b/" -> "/a/b"), leaving "/" alone.
std::string StripTrailingSlashes(std::string_view p);

// Lists an open directory (names other than "." and ".."); fd stays open. Returns 0
// or errno.
int ListDirFd(int fd, std::vector<std::string>* names);
// os.listdir(path): 0 or errno (ENOTDIR for a non-directory).
int ListDir(const std::string& path, std::vector<std::string>* names);
// The same as a Result: Status::FromErrno("listdir <path>", errno) on failure.
Result<std::vector<std::string>> ListDirNames(const std::string& path);
// A listed name with its d_type (DT_DIR, DT_REG, ...; DT_UNKNOWN where the file
// system does not say): a caller that must tell files from dirs needs no stat.
struct DirEntry {
  std::string name;
  unsigned char type;
};
// os.listdir(path) with types: 0 or errno.
int ListDirEntries(const std::string& path, std::vector<DirEntry>* entries);

// Swift's mkdirs: creates path and missing parents; fine if it is already a directory.
// Each directory it creates is made durable (its parent fsynced), which Swift's mkdirs
// does not do. Returns 0 or errno.
int MakeDirs(const std::string& path);

// Reads a whole file. Returns 0 or errno.
int ReadFile(const std::string& path, std::string* out);
// The same for `name` relative to the open directory `dirfd` (AT_FDCWD: the cwd): a
// short path to walk when the caller reads several files of one directory.
int ReadFileAt(int dirfd, const char* name, std::string* out);
// Writes all of data to fd, retrying on EINTR and short writes. Returns 0 or errno.
int WriteAll(int fd, std::string_view data);
// fsync of a directory; errors are ignored, as Swift's fsync_dir only logs them.
void FsyncDir(const std::string& path);

// Sorts raw file names the way Python sorts the str os.listdir() returns (code point
// order, undecodable bytes as U+DC80..U+DCFF). reverse=true for sort(reverse=True).
void SortPythonOrder(std::vector<std::string>* names, bool reverse = false);

}  // namespace replicant::diskfile::fs
