// Payloads: what the unpickler knows about each payload it has built or hashed.
//
// Not part of the public interface. A payload (the shared string, list, tuple or dict
// behind a Value) is known by its identity: its shape (depth and expanded size),
// whether it is nested (and so frozen), its cached hash, and for a dict an index of its
// keys by hash. Hashing and comparing dict keys happen here, charged to one work budget
// per load: a key is hashed once per payload (a tuple combines its items' cached
// hashes), compared only with keys of equal hash, and a pair of tuples found equal is
// remembered, so memo-shared parts are never walked twice. One Payloads per load; not
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "formats/pickle.h"
#include "base/status.h"

namespace replicant::pickle::internal {

// Depth and expanded size of a container built so far.
struct Shape {
  int depth = 1;
  uint64_t cost = 1;
};

// A dict's keys by hash: a list scanned while the dict is small (a hashes.pkl holds a
// few suffixes, and a map per dict cost an allocation per key), a hash map once it
// grows, so a big dict still finds a key's equal-hash entries in O(1).
class KeyIndex {
 public:
  // Positions in the dict of the keys with this hash.
  std::vector<size_t> Find(size_t hash) const;
  void Add(size_t hash, size_t position);

 private:
  static constexpr size_t kScanned = 32;
  std::vector<std::pair<size_t, size_t>> small_;  // (hash, position)
  std::unique_ptr<std::unordered_multimap<size_t, size_t>> map_;
};

struct Payload {
  // Holds the payload for the whole load, so that its address, the key of this entry,
  // cannot be reused by a later payload.
  Value keep;
  Shape shape;
  bool frozen = false;  // nested in a container: no longer modifiable
  bool hashed = false, hashable = false;
  size_t hash = 0;
  // Dicts: key hash -> position of the entry, so SETITEM finds an equal key by hash.
  KeyIndex keys;
};

class Payloads {
 public:
  // input_size: for the error text; max_work: the budget, in units of one value
  // visited or 64 bytes of a string hashed or compared.
  Payloads(size_t input_size, uint64_t max_work) : input_size_(input_size), max_work_(max_work) {}

  // The entry of v's payload (precondition: v holds one), created on first use.
  Payload& Of(const Value& v);
  // Python's hash(v); *hashable false for a list, a dict or a tuple holding one.
  Status Hash(const Value& v, bool* hashable, size_t* hash);
  // Python's a == b for two values that went through Hash.
  Status Equal(const Value& a, const Value& b, bool* equal);
  uint64_t work() const { return work_; }

 private:
  Status Charge(uint64_t units);

  std::unordered_map<const void*, Payload> payloads_;
  std::set<std::pair<const void*, const void*>> equal_pairs_;  // distinct, found equal
  const size_t input_size_;
  const uint64_t max_work_;
  uint64_t work_ = 0;
};

}  // namespace replicant::pickle::internal
