// Object store: Swift 2.30's DiskFile for replication policies, on one device.
//
// An object lives in a hash dir <devices>/<device>/objects[-N]/<part>/<suffix>/<hash>/
// as <timestamp>.data (body + metadata xattrs), <timestamp>.ts (tombstone) and
// <timestamp>[+-ctype delta].meta (fast-POST metadata). ObjectWriter creates files the
// way DiskFileWriter's mkstemp path does: body into a temp file under
// <device>/tmp[-N], metadata xattrs, fsync, hashes.invalid updated, rename into the
// hash dir, fsync of the hash dir and of every dir it had to create, then cleanup of
// obsolete files. A crash leaves either nothing new in the hash dir or the complete
// file (plus, at worst, an orphan temp file in tmp/). Swift 2.30 prefers an O_TMPFILE
// in the hash dir + linkat where the filesystem allows; the files it publishes are
// the same (we also give them its mode, 0777 & ~umask).
//
// OpenObject reads an object like DiskFile.open: picks the files by Swift's rules
// and merges .data and .meta metadata. YieldHashes lists a suffix for replication
// like DiskFileManager.yield_hashes.
//
// Thread-safety: the free functions are thread-safe. An ObjectWriter is used by one
// thread at a time. Concurrent writers and readers of one object behave as Swift's
// do: renames are atomic, readers hold an open fd to the file they picked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "hashes/fallocate.h"
#include "hashes/object_metadata.h"
#include "hashes/ondisk_files.h"
#include "hashes/timestamp.h"

namespace replicant::hashes {

// ---- Paths ----

// "objects" for policy 0, else "objects-N" (get_data_dir).
std::string DataDirName(int policy_index);
// "tmp" for policy 0, else "tmp-N" (get_tmp_dir).
std::string TmpDirName(int policy_index);
// The last 3 characters of the hash.
std::string_view SuffixOf(std::string_view hash);
// <devices>/<device>/objects[-N]/<partition>
std::string PartitionDirFor(std::string_view devices, std::string_view device,
                            int policy_index, uint64_t partition);
// <devices>/<device>/objects[-N]/<partition>/<suffix>/<hash>
std::string HashDirFor(std::string_view devices, std::string_view device, int policy_index,
                       uint64_t partition, std::string_view hash);

// Swift's make_on_disk_filename: "<ts.internal>.<ext>", and for .meta with a
// content-type timestamp "<ts.internal><+/-hex raw delta>.meta".
std::string OnDiskFilename(const Timestamp& ts, std::string_view ext,
                           const std::optional<Timestamp>& ctype_ts = std::nullopt);

// Owns a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.Release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// ---- Writing ----

enum class ObjectFileType { kData, kTombstone, kMeta };

struct WriterOptions {
  int policy_index = 0;
  int64_t reclaim_age = 604800;  // for the cleanup after the rename (Swift's default)
  bool cleanup = true;           // CleanupOnDiskFiles after the rename, as Swift's put()
  size_t xattr_chunk_size = kDefaultXattrChunkSize;
  // When set, the directories Put() would fsync after the rename are appended here
  // instead, for a receiver that makes a whole batch durable with one fsync per
  // directory before it acknowledges any file of it. The file itself is always
  // fsynced before the rename.
  std::vector<std::string>* deferred_dir_syncs = nullptr;
  // The caller invalidates the suffix before Commit (InvalidateHashes, once for a
  // whole batch); Put and Commit then leave hashes.invalid alone.
  bool caller_invalidates = false;
  // For large bodies: Write() does not hash. The body's MD5 is computed by reading the
  // temp file back from the page cache while its fsync runs (SyncData), and checked
  // before anything is published, so it costs no wall time beyond the fsync. A body
  // that does not match its ETag fails SyncData (or DataSyncedByFilesystemSync) and is
  // never renamed into place.
  bool hash_while_syncing = false;
  // Swift's create(size): a body of this many bytes is preallocated when the temp file
  // is made (0: size unknown or empty, nothing preallocated), after the
  // fallocate_reserve check. A full device fails Create with a NoSpace status.
  uint64_t size = 0;
  FallocateConfig fallocate;
};

// fsync of a directory.
Status FsyncDir(const std::string& dir);

// One new file for one object. Write() the body (.data only), then Put() or PutRaw();
// destroying a writer that was not put removes its temp file.
class ObjectWriter {
 public:
  // device_path is <devices>/<device>; hash_dir is where the file will go (normally
  // HashDirFor(...) on the same device). Creates <device_path>/tmp[-N] if needed.
  static Result<std::unique_ptr<ObjectWriter>> Create(std::string device_path,
                                                      std::string hash_dir,
                                                      WriterOptions options = {});
  ~ObjectWriter();
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  Status Write(std::string_view chunk);
  uint64_t bytes_written() const { return bytes_written_; }
  // MD5 hex of everything written so far (with hash_while_syncing: of what has been
  // hashed so far; Put, PrepareRaw and SyncData catch up themselves).
  std::string etag() const;
  const std::string& temp_path() const { return tmp_path_; }

  // Swift's DiskFileWriter.put. The name comes from metadata's X-Timestamp (and
  // Content-Type-Timestamp for .meta). For .data, ETag (compared case-insensitively
  // with the body's MD5: mismatch is Corruption) and Content-Length (must equal the
  // bytes written) are checked when given and added when absent; .ts and .meta take
  // no body. Metadata is stored as given otherwise: callers add "name" (Swift's put
  // sets name = "/a/c/o") and keep Swift's key order if they want identical xattrs.
  // Returns the final path.
  Result<std::string> Put(ObjectFileType type, Metadata metadata);
  // For receivers that ship files verbatim (native protocol): the file name and the
  // raw pickled metadata as received. The name must parse as a Swift object file
  // name and the pickle must decode.
  Result<std::string> PutRaw(std::string_view filename, std::string_view pickled_metadata);
  // The same when the caller already decoded the pickle (to validate it): `decoded`
  // must be DecodeMetadata(pickled_metadata).
  Result<std::string> PutRaw(std::string_view filename, std::string_view pickled_metadata,
                             const Metadata& decoded);
  // PutRaw in three steps, for a receiver that makes many files durable at once:
  // PrepareRaw checks the name and body and writes the metadata; SyncData fsyncs the
  // temp file (writers of one batch may do this from several threads at once); Commit
  // then publishes it exactly as Put does. Commit refuses a writer that was not synced.
  Status PrepareRaw(std::string_view filename, std::string_view pickled_metadata,
                    const Metadata& decoded);
  Status SyncData();
  // Instead of SyncData: the caller made the temp file durable itself, by a syncfs(2)
  // of its filesystem that began after PrepareRaw returned. Fails only on a deferred
  // ETag check (hash_while_syncing).
  Status DataSyncedByFilesystemSync();
  // Publishes the file. When a directory fsync after the rename fails, the rename is
  // undone (Unpublish) before the error returns: a file whose name may not survive a
  // crash must not stay visible, or the next session would answer "exists" for it.
  Result<std::string> Commit();
  // Undoes a Commit whose deferred_dir_syncs then failed: removes the published file
  // if it is still the one this writer renamed there (another writer's same-named file
  // is left alone) and invalidates its suffix again, so no REPLICATE hash computed
  // meanwhile still counts it. The file was fsynced, so a crash may bring it back
  // whole, never partial.
  Status Unpublish();
  // The suffix dir the file goes to, for a caller that invalidates it.
  std::string suffix_dir() const;

 private:
  ObjectWriter(std::string device_path, std::string hash_dir, WriterOptions options);
  Status Finalize(const std::string& filename, std::string_view pickled);
  Status Seal(std::string filename, std::string_view pickled);
  // hash_while_syncing: hashes the bytes written since the last call, read back.
  Status HashWritten();
  // The deferred ETag check PrepareRaw left for SyncData.
  Status CheckDeferredEtag();

  std::string device_path_, hash_dir_, tmp_path_;
  WriterOptions options_;
  UniqueFd fd_;
  uint64_t bytes_written_ = 0;
  uint64_t bytes_hashed_ = 0;
  std::optional<std::string> deferred_etag_;  // metadata's ETag, checked by SyncData
  struct Md5State;
  std::unique_ptr<Md5State> md5_;
  bool done_ = false;  // put (or failed past the point of retrying)
  std::string filename_;  // set by Seal
  bool synced_ = false;   // SyncData done
  std::string published_;  // set by Commit: the final path
  dev_t published_dev_ = 0;  // identity of the temp file Commit renamed there
  ino_t published_ino_ = 0;
};

// ---- Reading ----

struct OpenedObject {
  std::string hash_dir;
  OnDiskFiles files;  // Swift's choice of data/ts/meta/ctype files
  // True when the newest state is a .ts: metadata is then the tombstone's, and
  // there is no data file (Swift's DiskFileDeleted).
  bool tombstone = false;
  // X-Timestamp of the merged metadata (the .meta's when there is one, as
  // DiskFile.timestamp), and of the .data or .ts file.
  Timestamp timestamp;
  Timestamp data_timestamp;
  Metadata metadata;           // DiskFile.get_metadata()
  Metadata datafile_metadata;  // get_datafile_metadata()
  std::optional<Metadata> metafile_metadata;  // without "name", as Swift keeps it
  std::string data_file;       // full path; empty for a tombstone
  UniqueFd data_fd;            // open read-only on data_file: immune to later unlinks
  uint64_t content_length = 0;
  std::optional<int64_t> delete_at;  // X-Delete-At; expiry is the caller's decision
};

// Swift's DiskFile.open on a hash dir. NotFound when there is neither data nor a
// tombstone. Corruption where Swift would quarantine: bad or missing metadata,
// missing or bad Content-Length, Content-Length != file size, bad X-Delete-At. The
// check that "name" hashes back to the dir needs the hash path salt and is left to
// callers that have it. A corrupt tombstone is Corruption too (Swift quarantines it
// and then reports NotFound).
Result<OpenedObject> OpenObject(const std::string& hash_dir);

// Swift's quarantine_renamer for a hash dir: moves it to
// <device_path>/quarantined/objects[-N]/<hash> (with -<uuid hex> when that exists)
// and invalidates its suffix. Returns the new path.
Result<std::string> QuarantineHashDir(const std::string& device_path,
                                      const std::string& hash_dir, int policy_index);

// ---- Listing for replication ----

// Names of the suffix dirs in a partition dir: 3 hex characters (yield_suffixes).
std::vector<std::string> ListSuffixes(const std::string& partition_dir);

struct HashTimestamps {
  std::string hash;
  Timestamp ts_data;                  // of the .data or .ts
  std::optional<Timestamp> ts_meta;   // newest .meta, only with a .data
  std::optional<Timestamp> ts_ctype;  // content-type timestamp of the ctype .meta
  bool durable = true;                // always, for replication policies
  bool tombstone = false;             // ts_data is a .ts
};

// Swift's yield_hashes for one suffix dir: cleans up each hash dir (reclaim_age
// against now_seconds) and reports those that still have a .data or .ts, sorted
// by hash. When no hash dir has files left the suffix is invalidated, as Swift
// does. Entries that are not dirs are skipped (Swift would raise). A missing
// suffix dir yields nothing; any other error listing a hash dir is returned.
Result<std::vector<HashTimestamps>> YieldHashes(const std::string& suffix_dir,
                                                int64_t reclaim_age, double now_seconds);

}  // namespace replicant::hashes
