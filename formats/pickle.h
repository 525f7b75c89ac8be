// pickle: the subset of Python's pickle format that Swift puts on disk and on the wire.
//
// Swift stores object metadata (xattrs), hashes.pkl and REPLICATE responses as pickles.
// Loads() reads protocols 0-5 (including Python 2 cPickle output) for the value types
// None, bool, int (64-bit), float, str, bytes, list, tuple and dict, with memo opcodes.
// A Python 2 str loads as a str holding its raw bytes. Dumps() writes protocol 2 byte
// for byte as CPython 3's pickle.dumps(v, 2) does for the same value.
// Malformed or truncated input yields a Corruption status naming the opcode and offset,
// never a crash; allocation is bounded by the input size and by kMaxLoadValues values,
// nesting by 1000 levels, and recursive (self-containing) pickles are rejected. The CPU
// work of one load is bounded too: hashing and comparing dict keys (the only work that is
// not linear in the input) may cost at most kLoadWorkPerByte units per input byte
// (kMinLoadWork at least; a unit is one value visited or 64 bytes of a string), and a
// key's hash is computed once per shared payload, so a memo-shared value is never walked
// again. All functions are pure.
//
// Value is a value type whose payloads are shared copy-on-write: copies are cheap, and
// a memo reference in a pickle stays one shared payload (Dumps() writes it back as a
// memo reference, as CPython would). Distinct Values may be used from different
// threads even when they share payloads; one Value needs external synchronization
// only while it is being mutated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace replicant::pickle {

inline constexpr uint64_t kLoadWorkPerByte = 16;
inline constexpr uint64_t kMinLoadWork = uint64_t{1} << 20;
// The values one load may make (each costs ~250 bytes while loading, so 1 byte of `N`
// opcodes once cost 250): 4x the largest pickle Swift writes, a hashes.pkl or REPLICATE
// answer of all 4096 suffixes (8193 values).
inline constexpr uint64_t kMaxLoadValues = uint64_t{1} << 15;

class Value;
using List = std::vector<Value>;
// Dicts keep insertion order (as Python 3.7+ does) so Dumps() output is deterministic.
using Dict = std::vector<std::pair<Value, Value>>;

class Value {
 public:
  enum class Type { kNone, kBool, kInt, kFloat, kStr, kBytes, kList, kTuple, kDict };

  Value() = default;  // None
  // Copies have value semantics: mutating one never shows through another.
  Value(const Value& other);
  Value& operator=(const Value& other);
  Value(Value&& other) noexcept;  // leaves `other` None
  Value& operator=(Value&& other) noexcept;
  ~Value() = default;

  static Value None() { return Value(); }
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double d);
  static Value Str(std::string utf8);  // Python str; held as UTF-8
  static Value Bytes(std::string raw);  // Python bytes
  static Value MakeList(List items = {});
  static Value MakeTuple(List items = {});
  static Value MakeDict(Dict items = {});

  Type type() const { return type_; }
  bool is_none() const { return type_ == Type::kNone; }
  bool is_str() const { return type_ == Type::kStr; }
  bool is_bytes() const { return type_ == Type::kBytes; }
  bool is_dict() const { return type_ == Type::kDict; }
  bool is_list() const { return type_ == Type::kList; }
  bool is_tuple() const { return type_ == Type::kTuple; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_float() const { return type_ == Type::kFloat; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }  // also 0/1 for a bool, as in Python
  double as_float() const { return d_; }
  // The accessors below return an empty string/list/dict for other types.
  const std::string& as_string() const;  // for kStr and kBytes
  const List& items() const;             // kList / kTuple
  const Dict& dict() const;              // kDict
  // Mutable access (precondition: the matching type). Containers are shared
  // copy-on-write between copies of a Value; these unshare first, and the
  // returned reference stays private to this Value even if it is copied later.
  List& items();
  Dict& dict();

  // Dict helpers: lookup by str key (nullptr when absent or not a dict) and
  // set-or-replace by str key (no-op unless a dict).
  const Value* Get(std::string_view str_key) const;
  void Set(std::string_view str_key, Value v);

  // Python equality semantics for the supported types (1 == 1.0 == True, dict
  // order-insensitive, list != tuple).
  bool operator==(const Value& other) const;
  // Python-like repr, for tests and trusted values. Its length is that of the fully
  // expanded value, which a small pickle can make huge (memo references).
  std::string Repr() const;
  // The same, but the walk stops after max_bytes of output: at most that many bytes
  // of repr (never a split UTF-8 sequence) and " (truncated)". For anything a peer sent.
  std::string Repr(size_t max_bytes) const;

 private:
  friend struct ValueAccess;  // the codec's in-place building and identity memo

  Type type_ = Type::kNone;
  bool b_ = false;
  // Set once items()/dict() handed out a mutable reference: copies then clone the
  // container instead of sharing it, so that reference cannot alias a copy.
  bool unshareable_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  // Payloads are shared between copies (cheap copies, and memo references in a
  // pickle stay O(1)); strings are immutable, containers copy-on-write.
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
};

Result<Value> Loads(std::string_view data);
std::string Dumps(const Value& v);  // protocol 2

}  // namespace replicant::pickle
