// durable_copy: the bench's plain durable copy, "limit (fsync per file)". Copies every
// regular file under SRC into each DEST (one writer thread per DEST, all at once), each
// file made durable on its own the way Swift's object server writes a PUT: a temp file,
// xattrs included, fsync, rename into place, then fsync of the file's directory and of the
// parent of every directory it had to create, one after another. Nothing else (no network,
// no hashing, no protocol): its files/s is what the disk gives such a copy at this
// concurrency. A reference, not a bound: a receiver that batches durability beats it.
//
//   durable_copy SRC DEST [DEST ...]     prints "<files> <bytes>" written in total
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

void FsyncPath(const std::string& path) {
  Fd d(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0 || fsync(d.fd) != 0) Fail("fsync dir " + path);
}

// mkdir -p; the dirs it made, top first.
std::vector<std::string> MakeDirs(const std::string& dir) {
  std::vector<std::string> made;
  if (mkdir(dir.c_str(), 0755) == 0) {
    made.push_back(dir);
  } else if (errno == ENOENT) {
    made = MakeDirs(fs::path(dir).parent_path());
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) Fail("mkdir " + dir);
    made.push_back(dir);
  } else if (errno != EEXIST) {
    Fail("mkdir " + dir);
  }
  return made;
}

uint64_t CopyOne(const std::string& src, const std::string& dst, const std::string& tmp,
                 std::string& buf) {
  Fd in(open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) Fail("open " + src);
  Fd out(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.fd < 0) Fail("create " + tmp);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = read(in.fd, buf.data(), buf.size());
    if (n < 0) Fail("read " + src);
    if (n == 0) break;
    if (write(out.fd, buf.data(), static_cast<size_t>(n)) != n) Fail("write " + tmp);
    total += static_cast<uint64_t>(n);
  }
  char names[4096];
  ssize_t len = flistxattr(in.fd, names, sizeof(names));
  if (len < 0) Fail("listxattr " + src);
  std::string value(65536, '\0');
  for (ssize_t at = 0; at < len; at += static_cast<ssize_t>(strlen(names + at)) + 1) {
    ssize_t v = fgetxattr(in.fd, names + at, value.data(), value.size());
    if (v < 0 || fsetxattr(out.fd, names + at, value.data(), static_cast<size_t>(v), 0) != 0) {
      Fail(std::string("copy xattr ") + (names + at));
    }
  }
  if (fsync(out.fd) != 0) Fail("fsync " + tmp);
  std::string dir = fs::path(dst).parent_path();
  std::vector<std::string> made = MakeDirs(dir);
  if (rename(tmp.c_str(), dst.c_str()) != 0) Fail("rename " + dst);
  FsyncPath(dir);
  for (const auto& d : made) FsyncPath(fs::path(d).parent_path());
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: durable_copy SRC DEST [DEST ...]\n");
    return 2;
  }
  std::vector<std::string> files;  // relative to SRC, in directory order, as tar reads
  try {
    for (const auto& e : fs::recursive_directory_iterator(argv[1])) {
      if (e.is_regular_file()) files.push_back(fs::relative(e.path(), argv[1]));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "durable_copy: %s\n", e.what());
    return 1;
  }
  std::vector<std::string> errors(argc - 2);
  std::vector<uint64_t> bytes(argc - 2);
  std::vector<std::thread> writers;
  for (int d = 2; d < argc; ++d) {
    writers.emplace_back([&, d] {
      std::string dest = argv[d], buf(1 << 20, '\0');
      try {
        fs::create_directories(dest + "/.tmp");
        for (size_t i = 0; i < files.size(); ++i) {
          bytes[d - 2] += CopyOne(std::string(argv[1]) + "/" + files[i], dest + "/" + files[i],
                                  dest + "/.tmp/" + std::to_string(i), buf);
        }
      } catch (const std::exception& e) {
        errors[d - 2] = e.what();
      }
    });
  }
  for (auto& w : writers) w.join();
  uint64_t total = 0;
  for (size_t i = 0; i < writers.size(); ++i) {
    total += bytes[i];
    if (!errors[i].empty()) {
      std::fprintf(stderr, "durable_copy: %s: %s\n", argv[i + 2], errors[i].c_str());
      return 1;
    }
  }
  std::printf("%zu %llu\n", files.size() * writers.size(), static_cast<unsigned long long>(total));
  return 0;
}
