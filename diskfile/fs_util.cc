#include "diskfile/fs_util.h"

#include <dirent.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "formats/pystr.h"

namespace replicant::diskfile::fs {

std::string Dirname(std::string_view p) {
  size_t i = p.rfind('/');
  std::string_view head = i == std::string_view::npos ? std::string_view() : p.substr(0, i + 1);
  if (!head.empty() && head.find_first_not_of('/') != std::string_view::npos) {
    while (!head.empty() && head.back() == '/') head.remove_suffix(1);
  }
  return std::string(head);
}

std::string Basename(std::string_view p) {
  size_t i = p.rfind('/');
  return std::string(i == std::string_view::npos ? p : p.substr(i + 1));
}

std::string Join(std::string_view a, std::string_view b) {
  if (!b.empty() && b.front() == '/') return std::string(b);
  std::string out(a);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

std::string StripTrailingSlashes(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  return std::string(p);
}

namespace {

// The one getdents64 loop: f(name, d_type) for each entry but "." and "..".
// Raw getdents64 rather than fdopendir: no fstat/fcntl per directory, which
// matters on the hash-dir-per-object hot path.
template <class F>
int ForEachEntry(int fd, F&& f) {
  alignas(8) char buf[32768];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      auto* e = reinterpret_cast<struct dirent64*>(buf + off);
      off += e->d_reclen;
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      f(name, e->d_type);
    }
  }
}

// ForEachEntry over the directory at path: 0 or errno (of open or of the listing).
template <class F>
int ForEachEntryAt(const std::string& path, F&& f) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = ForEachEntry(fd, std::forward<F>(f));
  close(fd);
  return err;
}

}  // namespace

int ListDirFd(int fd, std::vector<std::string>* names) {
  names->clear();
  return ForEachEntry(fd, [names](const char* name, unsigned char) {
    names->emplace_back(name);
  });
}

int ListDir(const std::string& path, std::vector<std::string>* names) {
  names->clear();
  return ForEachEntryAt(path, [names](const char* name, unsigned char) {
    names->emplace_back(name);
  });
}

Result<std::vector<std::string>> ListDirNames(const std::string& path) {
  std::vector<std::string> names;
  if (int err = ListDir(path, &names); err != 0) {
    return Status::FromErrno("listdir " + path, err);
  }
  return names;
}

int ListDirEntries(const std::string& path, std::vector<DirEntry>* entries) {
  entries->clear();
  return ForEachEntryAt(path, [entries](const char* name, unsigned char type) {
    entries->push_back({name, type});
  });
}

namespace {

int SyncDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  return err;
}

}  // namespace

int MakeDirs(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return S_ISDIR(st.st_mode) ? 0 : EEXIST;
  std::string parent = Dirname(path);
  if (!parent.empty() && parent != path) {
    if (int err = MakeDirs(parent); err != 0) return err;
  }
  if (mkdir(path.c_str(), 0777) != 0) {
    int err = errno;
    if (err == EEXIST && stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return err;
  }
  // The new entry survives a crash only once its parent is synced. A writer syncs the
  // dirs it creates itself, not one that already exists: a partition dir made here (for
  // its lock) must be durable before anything below it is acknowledged.
  return SyncDir(parent.empty() ? "." : parent);
}

int ReadFile(const std::string& path, std::string* out) {
  return ReadFileAt(AT_FDCWD, path.c_str(), out);
}

int ReadFileAt(int dirfd, const char* name, std::string* out) {
  out->clear();
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return err;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return 0;
}

int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

void FsyncDir(const std::string& path) { (void)SyncDir(path); }

void SortPythonOrder(std::vector<std::string>* names, bool reverse) {
  bool all_utf8 = std::all_of(names->begin(), names->end(),
                              [](const std::string& n) { return pystr::IsStrictUtf8(n); });
  // Valid UTF-8 already sorts bytewise in code point order (the usual case).
  if (all_utf8) {
    if (reverse) std::sort(names->begin(), names->end(), std::greater<>());
    else std::sort(names->begin(), names->end());
    return;
  }
  std::vector<std::pair<std::string, std::string>> keyed;
  keyed.reserve(names->size());
  for (auto& n : *names) keyed.emplace_back(pystr::FromFsName(n), std::move(n));
  if (reverse) std::sort(keyed.begin(), keyed.end(), std::greater<>());
  else std::sort(keyed.begin(), keyed.end());
  for (size_t i = 0; i < keyed.size(); ++i) (*names)[i] = std::move(keyed[i].second);
}

}  // namespace replicant::diskfile::fs
