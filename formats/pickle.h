// pickle: the subset of Python's pickle format that Swift puts on disk and on the wire.
//
// Swift stores object metadata (xattrs), hashes.pkl and REPLICATE responses as pickles.
// Loads() reads protocols 0-5 (including Python 2 cPickle output) for the value types
// None, bool, int (64-bit), float, str, bytes, list, tuple and dict, with memo opcodes.
// Dumps() writes protocol 2, which Python's pickle.loads() turns back into equal values.
// Malformed or truncated input yields a Corruption status, never a crash; allocation is
// bounded by the input size. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/status.h"

namespace replicant::pickle {

class Value;
using List = std::vector<Value>;
// Dicts keep insertion order (as Python 3.7+ does) so Dumps() output is deterministic.
using Dict = std::vector<std::pair<Value, Value>>;

class Value {
 public:
  enum class Type { kNone, kBool, kInt, kFloat, kStr, kBytes, kList, kTuple, kDict };

  Value() = default;  // None
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

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_float() const { return d_; }
  const std::string& as_string() const { return s_; }  // for kStr and kBytes
  const List& items() const { return *list_; }          // kList / kTuple
  List& items() { return *list_; }
  const Dict& dict() const { return *dict_; }           // kDict
  Dict& dict() { return *dict_; }

  // Dict helpers: lookup by str key (nullptr when absent or not a dict) and
  // set-or-replace by str key.
  const Value* Get(std::string_view str_key) const;
  void Set(std::string_view str_key, Value v);

  // Python equality semantics for the supported types (1 == 1.0 == True, dict
  // order-insensitive, list != tuple).
  bool operator==(const Value& other) const;
  // Python-like repr, for logs and tests.
  std::string Repr() const;

 private:
  Type type_ = Type::kNone;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  std::shared_ptr<List> list_;  // shared_ptr keeps Value copyable and recursive
  std::shared_ptr<Dict> dict_;
};

Result<Value> Loads(std::string_view data);
std::string Dumps(const Value& v);  // protocol 2

}  // namespace replicant::pickle
