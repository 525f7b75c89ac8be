// hashes.pkl and hashes.invalid: Swift's read_hashes, write_hashes and
// consolidate_hashes.
//
// hashes.pkl is a pickled dict {suffix: md5 hex or None, 'valid': bool, 'updated':
// float}. HashesDict holds it with Python dict semantics (insertion order, set keeps a
// key's place, delete then set moves it to the end) so that what we write matches
// what Swift would write. ReadHashes never fails: anything unreadable is
// {'valid': False}, as in Swift. ConsolidateHashes takes the partition lock itself;
// ReadHashes and WriteHashes expect the caller to hold it where Swift does.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "formats/pickle.h"
#include "base/status.h"

namespace replicant::hashes {

class HashesDict {
 public:
  // Keys are Python str held as generalized UTF-8 (see pystr.h).
  const pickle::Value* Get(const std::string& key) const;
  void Set(const std::string& key, pickle::Value v);
  void SetDefault(const std::string& key, pickle::Value v);
  void Erase(const std::string& key);
  std::vector<std::string> Keys() const;  // in dict order
  // Calls fn(key, value) for every entry, in dict order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Entry& e : entries_) {
      if (e.live) fn(e.key, e.value);
    }
  }
  // A suffix (any key but 'valid' and 'updated') whose value is falsy: one to rehash.
  bool AnyStale() const;
  size_t size() const { return index_.size(); }

  // Python ==, except that a NaN equals a NaN (Swift would recurse forever on a
  // hashes.pkl holding NaN, since nan != nan).
  bool Equals(const HashesDict& other) const;
  pickle::Value ToPickle(bool drop_valid_updated = false) const;

  // Set by ReadHashes: the file held 'valid' and 'updated' itself, so this dict is
  // exactly what it says (no defaults filled in). Only then may an unchanged pass skip
  // rewriting it.
  bool as_on_disk = false;

 private:
  struct Entry {
    std::string key;
    pickle::Value value;
    bool live = true;
  };
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Python truthiness of a pickled value (None, False, 0, 0.0, '' and empty containers
// are false).
bool Truthy(const pickle::Value* v);

// True for Swift's valid_suffix: a str of 3 lowercase hex digits.
bool ValidSuffix(const std::string& key);

// read_hashes: the pickle must be a dict whose keys are all valid suffixes, 'valid' or
// 'updated'; 'valid' defaults to True and 'updated' to -1. Otherwise {'valid': False}.
HashesDict ReadHashes(const std::string& partition_dir);
// The same, read through an open descriptor of the partition dir.
HashesDict ReadHashesAt(int partition_fd);
// The same checks on the bytes of a hashes.pkl (what ReadHashes does once it has read
// the file).
HashesDict ParseHashes(std::string_view data);

// write_hashes: sets 'valid' (default False) and 'updated' = now, then writes a
// protocol-2 pickle through a mkstemp-style "tmpXXXXXX.tmp" in the partition, fsync,
// rename and directory fsync.
Status WriteHashes(const std::string& partition_dir, HashesDict* hashes);

// consolidate_hashes, under the partition lock: read_hashes, then each line of
// hashes.invalid (UTF-8, universal newlines, stripped) becomes key -> None; if there
// was a line, write hashes.pkl and truncate hashes.invalid. Errors: Unavailable when
// the lock times out; anything else (bad UTF-8, I/O) means Swift's "Unable to read".
// partition_fd (optional, -1: none): an open descriptor of partition_dir, through which
// the common case (no invalidations) reads its two files without walking the path.
Result<HashesDict> ConsolidateHashes(const std::string& partition_dir, double lock_timeout,
                                     int partition_fd = -1);

}  // namespace replicant::hashes
