// ObjectWriter: Swift's DiskFileWriter (mkstemp flavour) for replication policies.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <random>
#include <string>
#include <system_error>
#include <thread>

#include "base/text.h"
#include "diskfile/object_writer.h"

#include "diskfile/invalidate.h"
#include "diskfile/layout.h"
#include "diskfile/ondisk_files.h"

namespace replicant::diskfile {

namespace {

// Swift's bytes_per_sync default: flush dirty pages of big uploads as they come.
constexpr uint64_t kBytesPerSync = 512ull << 20;
// Bodies from this size on are preallocated (Swift preallocates every body).
constexpr uint64_t kPreallocateMin = 64 << 10;

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// 8 characters from Python's tempfile alphabet.
std::string RandomName() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (int i = 0; i < 8; ++i) out += kChars[rng() % (sizeof kChars - 1)];
  return out;
}

// Swift's makedirs_count: mkdir -p, returning how many dirs it created. It tries mkdir
// first and climbs only on ENOENT: a new object's hash dir costs one mkdir (three with
// a new suffix, the first failing), an existing one a failed mkdir; no stat. EEXIST is
// taken as a dir: were it a file, the rename or create into it fails with ENOTDIR.
Result<int> MakeDirsCount(const std::string& path) {
  if (mkdir(path.c_str(), 0777) == 0) return 1;
  int err = errno;
  if (err == EEXIST) return 0;
  std::string parent = Dirname(path);
  if (err != ENOENT || parent == path || parent == "/" || parent == ".") {
    return Status::FromErrno("mkdir " + path, err);
  }
  Result<int> count = MakeDirsCount(parent);
  if (!count.ok()) return count;
  if (mkdir(path.c_str(), 0777) == 0) return *count + 1;
  err = errno;
  if (err != EEXIST) return Status::FromErrno("mkdir " + path, err);
  return *count;  // a racing writer made it
}

// The body checks Swift's object server makes before put(): the client's ETag and
// Content-Length must match what arrived.
Status CheckEtag(const std::string* expected, const std::string& etag) {
  if (expected && !expected->empty() && LowerAscii(*expected) != etag) {
    return Status::Corruption("ETag mismatch: metadata " + *expected + ", body " + etag);
  }
  return Status::OK();
}

Status CheckLength(const Metadata& md, uint64_t size) {
  if (const std::string* cl = md.Get("Content-Length"); cl && *cl != std::to_string(size)) {
    return Status::Corruption("Content-Length mismatch: metadata " + *cl + ", body " +
                              std::to_string(size));
  }
  return Status::OK();
}

Status CheckBody(const Metadata& md, const std::string& etag, uint64_t size) {
  if (Status s = CheckEtag(md.Get("ETag"), etag); !s.ok()) return s;
  return CheckLength(md, size);
}

}  // namespace

Status FsyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open dir " + dir, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  return rc == 0 ? Status::OK() : Status::FromErrno("fsync dir " + dir, err);
}

struct ObjectWriter::Md5State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Md5State() { EVP_MD_CTX_free(ctx); }
};

ObjectWriter::ObjectWriter(std::string device_path, std::string hash_dir, WriterOptions options)
    : device_path_(std::move(device_path)),
      hash_dir_(std::move(hash_dir)),
      options_(options),
      md5_(std::make_unique<Md5State>()) {
  EVP_DigestInit_ex(md5_->ctx, EVP_md5(), nullptr);
}

ObjectWriter::~ObjectWriter() {
  fd_.Reset();
  if (!done_ && !tmp_path_.empty()) unlink(tmp_path_.c_str());
}

Result<std::unique_ptr<ObjectWriter>> ObjectWriter::Create(std::string device_path,
                                                           std::string hash_dir,
                                                           WriterOptions options) {
  std::unique_ptr<ObjectWriter> w(
      new ObjectWriter(std::move(device_path), std::move(hash_dir), options));
  std::string tmp_dir = TmpDirOn(w->device_path_, options.policy_index);
  // Swift's mkstemp(dir=tmpdir) path: a named file in the device's tmp dir, never
  // visible in the hash dir until complete. Mode 0777 & ~umask rather than
  // mkstemp's 0600: that is what Swift's default O_TMPFILE path leaves on disk.
  int fd = -1;
  std::string path;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    path = tmp_dir + "/tmp" + RandomName();
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0777);
    if (fd < 0 && errno == ENOENT && attempt == 0) {  // the first write to this device
      Result<int> made = MakeDirsCount(tmp_dir);
      if (!made.ok()) return made.status();
      fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0777);
    }
    if (fd < 0 && errno != EEXIST) return Status::FromErrno("create temp file " + path, errno);
  }
  if (fd < 0) return Status::IOError("no free temp file name in " + tmp_dir);
  w->fd_ = UniqueFd(fd);
  w->tmp_path_ = std::move(path);
  if (options.size > 0) {
    // A full device fails here, before any byte; the destructor removes the temp file.
    // A small body gets the reserve check only: its one write fails as early as an
    // allocation would, and on ext4 a preallocated block is an unwritten extent that
    // writeback must then convert (journalled) for every file of a batch.
    Status s = options.size < kPreallocateMin
                   ? CheckFallocateReserve(fd, options.size, options.fallocate, w->tmp_path_)
                   : Fallocate(fd, options.size, options.fallocate, w->tmp_path_);
    if (!s.ok()) return s;
  }
  return w;
}

std::string ObjectWriter::etag() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, md5_->ctx);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy, digest, &len);
  EVP_MD_CTX_free(copy);
  return DigestHex(digest, len);
}

Status ObjectWriter::Write(std::string_view chunk) {
  if (done_ || fd_.get() < 0) return Status::InvalidArgument("writer is closed");
  if (!options_.hash_while_syncing) {
    EVP_DigestUpdate(md5_->ctx, chunk.data(), chunk.size());
    bytes_hashed_ += chunk.size();
  }
  uint64_t before = bytes_written_;
  while (!chunk.empty()) {
    ssize_t n = write(fd_.get(), chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + tmp_path_, errno);
    }
    chunk.remove_prefix(static_cast<size_t>(n));
    bytes_written_ += static_cast<uint64_t>(n);
  }
  if (bytes_written_ / kBytesPerSync != before / kBytesPerSync) {
    // Hash what is still cached before the pages are dropped.
    if (Status s = HashWritten(); !s.ok()) return s;
    fdatasync(fd_.get());
    posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_DONTNEED);
  }
  return Status::OK();
}

Status ObjectWriter::HashWritten() {
  if (bytes_hashed_ >= bytes_written_) return Status::OK();
  constexpr uint64_t kChunk = 1 << 20;
  std::string buf(static_cast<size_t>(std::min(kChunk, bytes_written_ - bytes_hashed_)), '\0');
  while (bytes_hashed_ < bytes_written_) {
    uint64_t left = bytes_written_ - bytes_hashed_;
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), left));
    ssize_t n = pread(fd_.get(), buf.data(), want, static_cast<off_t>(bytes_hashed_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read back " + tmp_path_, errno);
    if (n == 0) return Status::IOError("read back " + tmp_path_ + ": file is short");
    EVP_DigestUpdate(md5_->ctx, buf.data(), static_cast<size_t>(n));
    bytes_hashed_ += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

Status ObjectWriter::CheckDeferredEtag() {
  if (Status s = HashWritten(); !s.ok()) return s;
  if (!deferred_etag_) return Status::OK();
  Status s = CheckEtag(&*deferred_etag_, etag());
  if (s.ok()) deferred_etag_.reset();
  return s;
}

Result<std::string> ObjectWriter::Put(ObjectFileType type, Metadata metadata) {
  const std::string* xts = metadata.Get("X-Timestamp");
  if (!xts) return Status::InvalidArgument("metadata has no X-Timestamp");
  Result<Timestamp> ts = Timestamp::Parse(*xts);
  if (!ts.ok()) return ts.status().WithContext("X-Timestamp");
  std::string filename;
  if (type == ObjectFileType::kData) {
    // The stored ETag is the computed one, so it is needed before the metadata.
    if (Status s = HashWritten(); !s.ok()) return s;
    std::string body_etag = etag();
    Status s = CheckBody(metadata, body_etag, bytes_written_);
    if (!s.ok()) return s;
    // Swift stores the computed values (lower-case hex), in place or appended.
    metadata.Set("ETag", body_etag);
    metadata.Set("Content-Length", std::to_string(bytes_written_));
    filename = OnDiskFilename(*ts, "data");
  } else {
    if (bytes_written_ != 0) return Status::InvalidArgument(".ts and .meta files take no body");
    std::optional<Timestamp> ctype_ts;
    const std::string* ctt = metadata.Get("Content-Type-Timestamp");
    if (type == ObjectFileType::kMeta && ctt && !ctt->empty()) {
      Result<Timestamp> parsed = Timestamp::Parse(*ctt);
      if (!parsed.ok()) return parsed.status().WithContext("Content-Type-Timestamp");
      ctype_ts = *parsed;
    }
    filename = OnDiskFilename(*ts, type == ObjectFileType::kMeta ? "meta" : "ts", ctype_ts);
  }
  Status s = Finalize(filename, EncodeMetadata(metadata));
  if (!s.ok()) return s;
  return hash_dir_ + "/" + filename;
}

Result<std::string> ObjectWriter::PutRaw(std::string_view filename,
                                         std::string_view pickled_metadata) {
  Result<Metadata> md = DecodeMetadata(pickled_metadata);
  if (!md.ok()) return md.status();
  return PutRaw(filename, pickled_metadata, *md);
}

Result<std::string> ObjectWriter::PutRaw(std::string_view filename,
                                         std::string_view pickled_metadata,
                                         const Metadata& decoded) {
  if (Status s = PrepareRaw(filename, pickled_metadata, decoded); !s.ok()) return s;
  if (Status s = SyncData(); !s.ok()) return s;
  return Commit();
}

Status ObjectWriter::PrepareRaw(std::string_view filename, std::string_view pickled_metadata,
                                const Metadata& decoded) {
  if (filename.empty() || filename.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("bad object file name '" + std::string(filename) + "'");
  }
  Result<OnDiskFile> parsed = ParseOnDiskFilename(filename);
  if (!parsed.ok() || parsed->kind == FileKind::kOther) {
    return Status::InvalidArgument("not an object file name: '" + std::string(filename) + "'");
  }
  if (parsed->kind == FileKind::kData) {
    Status s = CheckLength(decoded, bytes_written_);
    if (!s.ok()) return s;
    if (options_.hash_while_syncing) {
      // Checked by SyncData, which hashes the file while it is being flushed.
      if (const std::string* e = decoded.Get("ETag")) deferred_etag_ = *e;
    } else if (s = CheckEtag(decoded.Get("ETag"), etag()); !s.ok()) {
      return s;
    }
  } else if (bytes_written_ != 0) {
    return Status::InvalidArgument(".ts and .meta files take no body");
  }
  return Seal(std::string(filename), pickled_metadata);
}

Status ObjectWriter::Seal(std::string filename, std::string_view pickled) {
  if (done_ || fd_.get() < 0) return Status::InvalidArgument("writer is closed");
  // The temp file is ours, made with O_EXCL: no stale piece to remove.
  Status s = WriteRawMetadata(fd_.get(), pickled, options_.xattr_chunk_size, true);
  if (!s.ok()) return s.WithContext(tmp_path_);
  filename_ = std::move(filename);
  return Status::OK();
}

Status ObjectWriter::SyncData() {
  if (done_ || fd_.get() < 0) return Status::InvalidArgument("writer is closed");
  // Data and xattrs reach the disk before the name does: the rename can only
  // publish a complete file.
  int rc = 0, err = 0;
  Status checked;
  auto flush = [&] {
    rc = fsync(fd_.get());
    err = errno;
  };
  std::thread flusher;
  if (bytes_hashed_ < bytes_written_ || deferred_etag_) {
    // The MD5 runs on this thread while another waits for the disk (or, without a
    // thread to spare, before the fsync).
    try {
      flusher = std::thread(flush);
    } catch (const std::system_error&) {
    }
    checked = CheckDeferredEtag();
  }
  if (flusher.joinable()) {
    flusher.join();
  } else {
    flush();
  }
  if (rc != 0) return Status::FromErrno("fsync " + tmp_path_, err);
  if (!checked.ok()) return checked;
  posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_DONTNEED);
  synced_ = true;
  return Status::OK();
}

Status ObjectWriter::DataSyncedByFilesystemSync() {
  if (done_ || fd_.get() < 0) return Status::InvalidArgument("writer is closed");
  if (Status s = CheckDeferredEtag(); !s.ok()) return s;
  posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_DONTNEED);
  synced_ = true;
  return Status::OK();
}

// _finalize_put + renamer: metadata, fsync, invalidate, rename, fsync dirs, cleanup.
Status ObjectWriter::Finalize(const std::string& filename, std::string_view pickled) {
  if (Status s = Seal(filename, pickled); !s.ok()) return s;
  if (Status s = SyncData(); !s.ok()) return s;
  auto done = Commit();
  return done.ok() ? Status::OK() : done.status();
}

std::string ObjectWriter::suffix_dir() const { return Dirname(hash_dir_); }

Result<std::string> ObjectWriter::Commit() {
  if (done_ || fd_.get() < 0 || filename_.empty()) {
    return Status::InvalidArgument("writer is closed or not sealed");
  }
  if (!synced_) return Status::InvalidArgument("commit before the data was synced");
  Status s;
  const std::string& filename = filename_;
  Result<int> created = MakeDirsCount(hash_dir_);
  if (!created.ok()) return created.status();
  // Swift invalidates before the rename: a crash right after the rename then still
  // leaves the suffix marked for rehashing, so replication notices the new file.
  if (!options_.caller_invalidates) {
    s = InvalidateHash(suffix_dir());
    if (!s.ok()) return s;
  }

  std::string target = hash_dir_ + "/" + filename;
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return Status::FromErrno("fstat " + tmp_path_, errno);
  if (rename(tmp_path_.c_str(), target.c_str()) != 0) {
    // A concurrent cleanup may have removed the (empty) hash dir: recreate, retry once.
    created = MakeDirsCount(hash_dir_);
    if (!created.ok()) return created.status();
    if (rename(tmp_path_.c_str(), target.c_str()) != 0) {
      return Status::FromErrno("rename " + tmp_path_ + " -> " + target, errno);
    }
  }
  done_ = true;
  fd_.Reset();
  published_ = target;
  published_dev_ = st.st_dev;
  published_ino_ = st.st_ino;
  // The hash dir, and the parent of each dir we created, so every new entry is durable.
  std::string dir = hash_dir_;
  for (int i = 0; i <= *created; ++i) {
    if (options_.deferred_dir_syncs) {
      options_.deferred_dir_syncs->push_back(dir);
    } else if (s = FsyncDir(dir); !s.ok()) {
      if (Status u = Unpublish(); !u.ok()) return s.WithContext(u.message());
      return s;
    }
    dir = Dirname(dir);
  }
  // A hash dir made by this put holds only our file (unless another writer raced us
  // into it, whose leftovers the next get_hashes cleans up), and a lone .data is never
  // obsolete or reclaimable: nothing to clean. A lone old .ts or .meta is, as in Swift.
  bool lone_data = *created > 0 && filename.size() > 5 &&
                   filename.compare(filename.size() - 5, 5, ".data") == 0;
  if (options_.cleanup && !lone_data) {
    // As Swift, a failed cleanup does not fail the put: the file is in place.
    (void)CleanupOnDiskFiles(hash_dir_, options_.reclaim_age, Timestamp::Now().seconds());
  }
  return target;
}

Status ObjectWriter::Unpublish() {
  if (published_.empty()) return Status::InvalidArgument("writer did not commit");
  struct stat st;
  if (lstat(published_.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::OK() : Status::FromErrno("stat " + published_, errno);
  }
  // Not ours any more (a later writer replaced it): its durability is its writer's.
  if (st.st_dev != published_dev_ || st.st_ino != published_ino_) return Status::OK();
  if (unlink(published_.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("undo publishing " + published_ + ": unlink", errno);
  }
  return InvalidateHash(suffix_dir());
}

}  // namespace replicant::diskfile
