// pickle internals shared by the formats/pickle*.cc files.
//
// Not part of the public interface. ValueAccess gives the codec what Python's object
// model has and Value hides: in-place mutation of a shared container (the unpickler
// must mutate the very object the memo refers to) and object identity (the pickler
// memoizes by identity, as CPython does). Everything here is stateless and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/pickle.h"
#include "formats/py_text.h"

namespace replicant::pickle {

struct ValueAccess {
  // The shared payload behind a str/bytes/list/tuple/dict; nullptr for atoms.
  static const void* Identity(const Value& v) {
    if (v.s_) return v.s_.get();
    if (v.list_) return v.list_.get();
    if (v.dict_) return v.dict_.get();
    return nullptr;
  }
  // The payload itself, without copy-on-write: every Value sharing it sees the
  // change, which is what the unpickler needs for memoized containers.
  static List& SharedList(Value& v) { return *v.list_; }
  static Dict& SharedDict(Value& v) { return *v.dict_; }
};

namespace internal {

// Python's hash() classes: values that compare equal (1 == 1.0 == True) hash equal.
// False for unhashable values (list, dict, or a tuple holding one). HashValue walks
// the whole value; the loader instead combines cached item hashes the same way:
// a tuple's hash is MixHash over its items' hashes, starting from kTupleHashSeed.
bool HashValue(const Value& v, size_t* hash);
// The hash of a value that is not a container; false for list, tuple and dict.
bool HashScalar(const Value& v, size_t* hash);
size_t MixHash(size_t h, size_t v);
inline constexpr size_t kTupleHashSeed = 3;

// Loads() with an explicit work budget (see kLoadWorkPerByte), reporting the work
// done in *work when not null: for tests of the bound.
Result<Value> LoadsWithBudget(std::string_view data, uint64_t max_work, uint64_t* work);

using py::AppendUtf8;
// Decodes the code point at s[*pos] and advances *pos; false if malformed.
bool NextCodePoint(std::string_view s, size_t* pos, uint32_t* cp);
bool IsValidUtf8(std::string_view s);

// Parsers for the text-line arguments of protocol 0 opcodes (pickle_text.cc): each
// turns one line (without its newline) into a value, or returns false with *error.
using LineParser = bool (*)(std::string_view line, Value* out, std::string* error);
bool ParseIntLine(std::string_view line, Value* out, std::string* error);     // INT
bool ParseLongLine(std::string_view line, Value* out, std::string* error);    // LONG
bool ParseFloatLine(std::string_view line, Value* out, std::string* error);   // FLOAT
bool ParseStringLine(std::string_view line, Value* out, std::string* error);  // STRING
bool ParseUnicodeLine(std::string_view line, Value* out, std::string* error);  // UNICODE
// A little-endian two's complement integer, as LONG1/LONG4 write it.
bool DecodeLong(std::string_view bytes, int64_t* out, std::string* error);

}  // namespace internal
}  // namespace replicant::pickle
