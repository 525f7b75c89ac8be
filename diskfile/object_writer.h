// ObjectWriter: Swift 2.30's DiskFileWriter for replication policies, on one device.
//
// ObjectWriter creates files the way DiskFileWriter's mkstemp path does: body into a
// temp file under <device>/tmp[-N], metadata xattrs, fsync, hashes.invalid updated,
// rename into the hash dir, fsync of the hash dir and of every dir it had to create,
// then cleanup of obsolete files. A crash leaves either nothing new in the hash dir or
// the complete file (plus, at worst, an orphan temp file in tmp/). Swift 2.30 prefers
// an O_TMPFILE in the hash dir + linkat where the filesystem allows; the files it
// publishes are the same (we also give them its mode, 0777 & ~umask). Paths come from
// layout.h.
//
// Thread-safety: FsyncDir is thread-safe. An ObjectWriter is used by one thread at a
// time (SyncData excepted, see there). Concurrent writers of one object behave as
// Swift's do: renames are atomic.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "diskfile/fallocate.h"
#include "diskfile/fd.h"
#include "diskfile/object_metadata.h"

namespace replicant::diskfile {

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
  // is made (0: size unknown or empty, nothing preallocated; under 64 KiB, only the
  // reserve is checked), after the fallocate_reserve check. A full device fails Create
  // with a NoSpace status.
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

}  // namespace replicant::diskfile
