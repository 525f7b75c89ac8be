// durable_copy: the bench's plain durable copies, "limit (fsync per file)" and "limit
// (batched durable)". Copies every regular file under SRC into each DEST (one writer
// thread per DEST, all at once, as the three receiving nodes of a replication pass would
// write), xattrs included, each file through a temp file renamed into place. Nothing
// else (no network, no hashing, no protocol): its files/s is what the disk gives such a
// copy at this concurrency.
//
// Default mode, file by file as Swift's object server writes a PUT: temp file, fsync,
// rename, then fsync of the file's directory and of the parent of every directory it
// had to create, one after another. A reference, not a bound.
//
// --batched: made durable in batches the way the native receiver does
// (sync_backends/native/native_receiver.cc): batches of --batch-files files or
// --batch-bytes of bodies (the sender's native_batch_files / native_batch_bytes), written
// in groups of 64 temp files with no fsync (a batch's last 128 or fewer in one group);
// each group made durable together (a file of 1 MiB or more by its own fsync; the small
// ones by one syncfs of DEST's filesystem when there are at least 8 of them, else by
// fsyncs; fsyncs on up to 8 threads), then renamed
// into place; at the batch's end the directories its renames and mkdirs touched made
// durable (one syncfs when there are at least 8 and no large file, else fsyncs on 8
// threads).
//
//   durable_copy [--batched [--batch-files N] [--batch-bytes B]] SRC DEST [DEST ...]
//   prints "<files> <bytes>" written in total
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;

// The native receiver's constants (native_receiver.cc): files synced together, the
// threads that fsync them, the fewest fsyncs a syncfs replaces, the size from which a
// file is always fsynced on its own.
constexpr size_t kSyncGroup = 64;
constexpr size_t kSyncThreads = 8;
constexpr size_t kSyncfsMin = 8;
constexpr uint64_t kFsyncAlwaysSize = 1 << 20;

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

void FsyncPath(const std::string& path) {
  Fd d(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0 || fsync(d.fd) != 0) Fail("fsync dir " + path);
}

// Runs f(i) for i in [0, n) on up to `threads` threads (the caller's among them); the
// first exception is rethrown after all have joined.
template <typename F>
void ParallelFor(size_t n, size_t threads, const F& f) {
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (size_t i; (i = next++) < n;) {
      try {
        f(i);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(n, threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
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

// Writes src's body and xattrs into a new temp file; returns its open descriptor (not
// synced) and adds the bytes to *total.
Fd WriteTemp(const std::string& src, const std::string& tmp, std::string& buf,
             uint64_t* total) {
  Fd in(open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) Fail("open " + src);
  Fd out(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.fd < 0) Fail("create " + tmp);
  for (;;) {
    ssize_t n = read(in.fd, buf.data(), buf.size());
    if (n < 0) Fail("read " + src);
    if (n == 0) break;
    if (write(out.fd, buf.data(), static_cast<size_t>(n)) != n) Fail("write " + tmp);
    *total += static_cast<uint64_t>(n);
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
  return out;
}

// Renames tmp to dst, making dst's dir first; adds the dirs whose entries changed (the
// file's dir, the parent of every dir made) to *dirs, top first.
void Publish(const std::string& tmp, const std::string& dst, std::vector<std::string>* dirs) {
  std::string dir = fs::path(dst).parent_path();
  std::vector<std::string> made = MakeDirs(dir);
  if (rename(tmp.c_str(), dst.c_str()) != 0) Fail("rename " + dst);
  dirs->push_back(dir);
  for (const auto& d : made) dirs->push_back(fs::path(d).parent_path());
}

// Swift's PUT, file by file.
uint64_t CopyOne(const std::string& src, const std::string& dst, const std::string& tmp,
                 std::string& buf) {
  uint64_t total = 0;
  Fd out = WriteTemp(src, tmp, buf, &total);
  if (fsync(out.fd) != 0) Fail("fsync " + tmp);
  std::vector<std::string> dirs;
  Publish(tmp, dst, &dirs);
  for (const auto& d : dirs) FsyncPath(d);
  return total;
}

struct Options {
  bool batched = false;
  size_t batch_files = 256;
  uint64_t batch_bytes = 16u << 20;
};

// One receiving node's writer in --batched mode.
class BatchWriter {
 public:
  BatchWriter(const std::string& src, const std::string& dest, const Options& o)
      : src_(src),
        dest_(dest),
        o_(o),
        root_(open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (root_.fd < 0) Fail("open " + dest);
  }

  uint64_t Copy(const std::vector<std::string>& files, const std::vector<uint64_t>& sizes) {
    size_t i = 0;
    while (i < files.size()) {
      size_t end = i;
      uint64_t bytes = 0;
      // the sender's rule: a batch closes at batch_files files or batch_bytes of bodies
      while (end < files.size() && end - i < o_.batch_files &&
             (end == i || bytes < o_.batch_bytes)) {
        bytes += sizes[end++];
      }
      Batch(files, sizes, i, end);
      i = end;
    }
    return total_;
  }

 private:
  void Syncfs() {
    if (syncfs(root_.fd) != 0) Fail("syncfs " + dest_);
  }

  void Batch(const std::vector<std::string>& files, const std::vector<uint64_t>& sizes,
             size_t begin, size_t end) {
    std::vector<std::string> dirs;
    bool has_large = false;
    for (size_t g = begin, gend; g < end; g = gend) {
      // the receiver's rule: the batch's tail of kSyncGroup files or fewer joins the group
      gend = end - g > 2 * kSyncGroup ? g + kSyncGroup : end;
      std::vector<Fd> fds;
      std::vector<size_t> own;  // fsynced one by one
      size_t small = 0;
      for (size_t k = g; k < gend; ++k) {
        fds.push_back(WriteTemp(src_ + "/" + files[k], Tmp(k), buf_, &total_));
        small += sizes[k] < kFsyncAlwaysSize;
      }
      bool use_syncfs = small >= kSyncfsMin;
      for (size_t k = g; k < gend; ++k) {
        bool large = sizes[k] >= kFsyncAlwaysSize;
        has_large |= large;
        if (large || !use_syncfs) own.push_back(k - g);
      }
      ParallelFor(own.size(), kSyncThreads, [&](size_t j) {
        if (fsync(fds[own[j]].fd) != 0) Fail("fsync " + Tmp(g + own[j]));
      });
      if (use_syncfs) Syncfs();
      for (size_t k = g; k < gend; ++k) Publish(Tmp(k), dest_ + "/" + files[k], &dirs);
    }
    std::sort(dirs.begin(), dirs.end());
    dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
    if (!has_large && dirs.size() >= kSyncfsMin) return Syncfs();
    ParallelFor(dirs.size(), kSyncThreads, [&](size_t j) { FsyncPath(dirs[j]); });
  }

  std::string Tmp(size_t k) const { return dest_ + "/.tmp/" + std::to_string(k); }

  std::string src_, dest_;
  Options o_;
  Fd root_;
  std::string buf_ = std::string(1 << 20, '\0');
  uint64_t total_ = 0;
};

uint64_t ParseCount(const char* flag, const char* v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = v ? std::strtoull(v, &end, 10) : 0;
  if (!v || errno || *end || n == 0) {
    std::fprintf(stderr, "durable_copy: %s needs a positive number\n", flag);
    std::exit(2);
  }
  return n;
}

int Usage() {
  std::fprintf(stderr,
               "usage: durable_copy [--batched [--batch-files N] [--batch-bytes B]] SRC DEST "
               "[DEST ...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int a = 1;
  for (; a < argc && std::strncmp(argv[a], "--", 2) == 0; ++a) {
    std::string f = argv[a];
    if (f == "--batched") {
      o.batched = true;
    } else if (f == "--batch-files" || f == "--batch-bytes") {
      uint64_t n = ParseCount(argv[a], a + 1 < argc ? argv[a + 1] : nullptr);
      (f == "--batch-files" ? o.batch_files : o.batch_bytes) = n;
      ++a;
    } else {
      return Usage();
    }
  }
  if (argc - a < 2) return Usage();
  std::string src = argv[a];
  std::vector<std::string> dests(argv + a + 1, argv + argc);
  std::vector<std::string> files;  // relative to SRC, in directory order, as tar reads
  std::vector<uint64_t> sizes;
  try {
    for (const auto& e : fs::recursive_directory_iterator(src)) {
      if (e.is_regular_file()) {
        files.push_back(fs::relative(e.path(), src));
        sizes.push_back(e.file_size());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "durable_copy: %s\n", e.what());
    return 1;
  }
  std::vector<std::string> errors(dests.size());
  std::vector<uint64_t> bytes(dests.size());
  std::vector<std::thread> writers;
  for (size_t d = 0; d < dests.size(); ++d) {
    writers.emplace_back([&, d] {
      const std::string& dest = dests[d];
      try {
        fs::create_directories(dest + "/.tmp");
        if (o.batched) {
          bytes[d] = BatchWriter(src, dest, o).Copy(files, sizes);
          return;
        }
        std::string buf(1 << 20, '\0');
        for (size_t i = 0; i < files.size(); ++i) {
          bytes[d] += CopyOne(src + "/" + files[i], dest + "/" + files[i],
                              dest + "/.tmp/" + std::to_string(i), buf);
        }
      } catch (const std::exception& e) {
        errors[d] = e.what();
      }
    });
  }
  for (auto& w : writers) w.join();
  uint64_t total = 0;
  for (size_t i = 0; i < writers.size(); ++i) {
    total += bytes[i];
    if (!errors[i].empty()) {
      std::fprintf(stderr, "durable_copy: %s: %s\n", dests[i].c_str(), errors[i].c_str());
      return 1;
    }
  }
  std::printf("%zu %llu\n", files.size() * writers.size(), static_cast<unsigned long long>(total));
  return 0;
}
