// pickle_flat: a fast path for the pickle replication reads most, a protocol-2 dict of
// ASCII str keys to None, a bool, a small int, a float or an ASCII str: hashes.pkl and
// every REPLICATE answer, up to 4,096 entries each. Decoded in one scan into views of the
// input, without the Value tree, memo and per-item allocations of Loads (which were half
// of an idle pass's CPU on partitions with many suffixes).
//
// It accepts a strict subset of what Loads accepts, meaning the same: the opcodes
// CPython's pickler (and Dumps) write for such a dict, memo puts numbered as CPython
// numbers them. Anything else (another protocol, a memo reference, non-ASCII text, a
// nested container, bytes after STOP) gives std::nullopt, and the caller decodes with
// Loads. Entries come in the pickle's order, a repeated key as often as it appears (a
// caller that assigns them in order gets Python's dict). Thread-safe: no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "formats/pickle.h"

namespace replicant::pickle {

struct FlatValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kStr };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string_view s;  // kStr: into the decoded bytes
};

struct FlatEntry {
  std::string_view key;  // into the decoded bytes
  FlatValue value;
};

std::optional<std::vector<FlatEntry>> LoadFlatDict(std::string_view data);

// The Value Loads would have made for `v`.
Value ToValue(const FlatValue& v);

}  // namespace replicant::pickle
