// Object metadata: the pickled dict Swift keeps in an object file's xattrs.
//
// Swift 2.30 (write_metadata / read_metadata in swift/obj/diskfile.py) pickles the
// metadata dict with protocol 2 after encoding every str key and value to UTF-8
// bytes, splits the pickle into 65536-byte pieces stored as `user.swift.metadata`,
// `user.swift.metadata1`, `...2`, and stores the MD5 hex of the whole pickle in
// `user.swift.metadata_checksum`. Older Swifts used 254-byte pieces and no checksum;
// readers concatenate pieces until one is missing and verify the checksum only when
// it is present.
//
// Metadata keeps insertion order, like a Python dict, because the pickle (and so the
// checksum) depends on it: EncodeMetadata() reproduces CPython's pickle of Swift's
// bytes dict byte for byte, so a file written here carries the same xattrs Swift
// would write for the same dict. Keys and values are held as the bytes Swift writes
// (UTF-8, with surrogateescape for undecodable bytes), which is also what
// _decode_metadata() gives back on py3 once re-encoded.
//
// All functions are stateless and thread-safe; concurrent writers to one file's
// xattrs must be serialized by the caller (Swift only writes fresh temp files).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace replicant::diskfile {

// An insertion-ordered str -> str dict with Python dict semantics.
class Metadata {
 public:
  using Entry = std::pair<std::string, std::string>;
  using const_iterator = std::vector<Entry>::const_iterator;

  Metadata() = default;
  Metadata(std::initializer_list<Entry> entries);

  // nullptr when absent.
  const std::string* Get(std::string_view key) const;
  std::string GetOr(std::string_view key, std::string_view fallback) const;
  bool Has(std::string_view key) const { return Get(key) != nullptr; }
  // d[key] = value: replaces in place (keeping the position) or appends.
  void Set(std::string_view key, std::string value);
  // d.pop(key, None); true when something was removed.
  bool Erase(std::string_view key);
  // d.update(other), in other's order.
  void Update(const Metadata& other);

  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }

  // Python dict equality: same keys and values, order ignored.
  bool operator==(const Metadata& other) const;

 private:
  std::vector<Entry> entries_;
};

inline constexpr char kMetadataXattr[] = "user.swift.metadata";
inline constexpr char kMetadataChecksumXattr[] = "user.swift.metadata_checksum";
// write_metadata's default xattr_size in Swift 2.30 (older releases used 254).
inline constexpr size_t kDefaultXattrChunkSize = 65536;

// Lower-case hex of a digest: the form of an ETag and of the metadata checksum.
std::string DigestHex(const unsigned char* digest, size_t len);

// The pickle Swift 2.30 on py3 writes for this dict: pickle.dumps of
// {k.encode('utf8'): v.encode('utf8')} with protocol 2, identical bytes.
std::string EncodeMetadata(const Metadata& metadata);

// Unpickles any protocol (Python 2 or 3 writers) into Metadata, as read_metadata +
// _decode_metadata do. Keys and values may be str or bytes; ints (very old writers)
// become their decimal text. Anything else, or a non-dict, is Corruption.
Result<Metadata> DecodeMetadata(std::string_view pickled);

// Raw xattr bytes: the concatenated pieces, checksum-verified (Corruption on
// mismatch). NotFound when the file does not exist; Corruption when it has no
// metadata xattr (Swift's pickle.loads(b'') fails and the file is quarantined).
Result<std::string> ReadRawMetadata(int fd);
Result<std::string> ReadRawMetadataFile(const std::string& path);

// Stores pickled bytes as pieces of chunk_size plus the checksum, and removes a
// stale next piece left by a longer earlier value so readers never concatenate it
// (`fresh_file`: the caller created fd's file and set no xattr on it, so there is none).
Status WriteRawMetadata(int fd, std::string_view pickled,
                        size_t chunk_size = kDefaultXattrChunkSize, bool fresh_file = false);

// Read + decode, and encode + write.
Result<Metadata> ReadMetadata(int fd);
Result<Metadata> ReadMetadataFile(const std::string& path);
Status WriteMetadata(int fd, const Metadata& metadata,
                     size_t chunk_size = kDefaultXattrChunkSize);

}  // namespace replicant::diskfile
