#include "formats/pickle_payloads.h"

#include <algorithm>
#include <string>

#include "formats/pickle_internal.h"

namespace replicant::pickle::internal {
namespace {

constexpr size_t kUncachedString = 64;

// Units for hashing or comparing a string: one, plus one per 64 bytes.
uint64_t StringUnits(const Value& v) { return 1 + v.as_string().size() / 64; }

}  // namespace

std::vector<size_t> KeyIndex::Find(size_t hash) const {
  std::vector<size_t> at;
  if (map_) {
    auto [lo, hi] = map_->equal_range(hash);
    for (auto it = lo; it != hi; ++it) at.push_back(it->second);
  } else {
    for (const auto& [h, position] : small_) {
      if (h == hash) at.push_back(position);
    }
  }
  return at;
}

void KeyIndex::Add(size_t hash, size_t position) {
  if (!map_ && small_.size() < kScanned) {
    small_.emplace_back(hash, position);
    return;
  }
  if (!map_) {
    map_ = std::make_unique<std::unordered_multimap<size_t, size_t>>(small_.begin(), small_.end());
    small_ = {};
  }
  map_->emplace(hash, position);
}

Payload& Payloads::Of(const Value& v) {
  auto [it, added] = payloads_.try_emplace(ValueAccess::Identity(v));
  if (added) it->second.keep = v;
  return it->second;
}

Status Payloads::Charge(uint64_t units) {
  work_ += units;
  if (work_ > max_work_) {
    return Status::Corruption("hashing and comparing dict keys takes more work than a pickle of " +
                              std::to_string(input_size_) + " bytes may cost");
  }
  return Status::OK();
}

Status Payloads::Hash(const Value& v, bool* hashable, size_t* hash) {
  if (!v.is_str() && !v.is_bytes() && !v.is_tuple()) {
    *hashable = HashScalar(v, hash);  // false for list and dict
    return Status::OK();
  }
  // A short string is hashed again at each use, for the same units a cached hash is
  // charged the first time: cheaper than remembering it (a dict key is usually one).
  if (!v.is_tuple() && v.as_string().size() <= kUncachedString) {
    if (Status s = Charge(StringUnits(v)); !s.ok()) return s;
    *hashable = HashScalar(v, hash);
    return Status::OK();
  }
  Payload& p = Of(v);
  if (!p.hashed) {
    size_t h = kTupleHashSeed;
    bool ok = true;
    if (v.is_tuple()) {
      if (Status s = Charge(1 + v.items().size()); !s.ok()) return s;
      for (const Value& item : v.items()) {
        bool item_ok;
        size_t ih;
        if (Status s = Hash(item, &item_ok, &ih); !s.ok()) return s;
        if (!item_ok) {
          ok = false;
          break;
        }
        h = MixHash(h, ih);
      }
    } else {
      if (Status s = Charge(StringUnits(v)); !s.ok()) return s;
      HashScalar(v, &h);
    }
    p.hashed = true;
    p.hashable = ok;
    p.hash = h;
  }
  *hashable = p.hashable;
  *hash = p.hash;
  return Status::OK();
}

// Tuples with different hashes differ; a pair of tuple payloads found equal is
// remembered, so values built apart from shared parts compare in time linear in
// their parts.
Status Payloads::Equal(const Value& a, const Value& b, bool* equal) {
  if (Status s = Charge(1); !s.ok()) return s;
  const void* ia = ValueAccess::Identity(a);
  const void* ib = ValueAccess::Identity(b);
  if (ia && ia == ib) {
    *equal = true;
    return Status::OK();
  }
  if (!a.is_tuple() || !b.is_tuple()) {
    if (a.type() == b.type() && (a.is_str() || a.is_bytes())) {
      if (Status s = Charge(StringUnits(a)); !s.ok()) return s;
    }
    *equal = a == b;  // scalars and strings: no nested walk
    return Status::OK();
  }
  std::pair<const void*, const void*> pair = std::minmax(ia, ib);
  *equal = Of(a).hash == Of(b).hash && a.items().size() == b.items().size();
  if (!*equal || equal_pairs_.count(pair)) return Status::OK();
  for (size_t i = 0; i < a.items().size() && *equal; ++i) {
    if (Status s = Equal(a.items()[i], b.items()[i], equal); !s.ok()) return s;
  }
  if (*equal) equal_pairs_.insert(pair);
  return Status::OK();
}

}  // namespace replicant::pickle::internal
