// Loads(): a pickle virtual machine for the value subset, protocols 0-5.
//
// It follows CPython's unpickler (Modules/_pickle.c): a value stack with MARK
// fences, and a memo whose entries share their object with the stack, so that
// filling a memoized dict is seen through later GETs. Each length is checked
// against the bytes left before anything is allocated; memo references cost O(1)
// (payloads are shared), and the expanded size and depth of the result are bounded
// so that walking it later (Repr, ==, Dumps) stays proportionate to the input.
// Containers cannot be modified once nested, which rules out reference cycles.
// Dict keys are hashed once per payload (a tuple's hash combines its items' cached
// hashes) and compared only when their hashes match, pairs of tuples once; all of that
// work is charged to one budget per load, so no pickle can make a load walk its keys'
// expanded values again and again.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "formats/pickle.h"
#include "formats/pickle_internal.h"
#include "formats/pickle_ops.h"
#include "formats/pickle_payloads.h"

namespace replicant::pickle {
namespace {

using internal::Payload;
using internal::Payloads;
using internal::Shape;

constexpr int kMaxDepth = 1000;        // Python's default recursion limit
// The expanded size (values, plus string bytes) a pickle may reach through memo
// references: 16 times its length, and at least this. Swift's pickles share
// nothing; "billion laughs" input stops here.
constexpr uint64_t kMinExpansion = uint64_t{1} << 26;

// Callables that a REDUCE may apply: only those Python 3 uses to pickle bytes at
// protocols 0-2.
enum class Callable { kNone, kCodecsEncode, kBytesType };

struct Item {
  Value v;
  Callable callable = Callable::kNone;
};

// The memo. Python's picklers number its entries 0, 1, 2...: those live in a vector
// (no node allocation per PUT, the cost that dominated loading a small hashes.pkl);
// any other key, from a hand-made pickle, goes to a map. A key below the vector's size
// is never in the map (the vector grows only by the next key, taken out of the map).
class Memo {
 public:
  size_t size() const { return count_; }  // MEMOIZE's next key, as len(memo) in Python
  void Put(uint64_t key, const Item& item) {
    if (key < dense_.size()) {
      if (!dense_[key]) ++count_;
      dense_[key] = item;
    } else if (key == dense_.size()) {
      if (sparse_.erase(key) == 0) ++count_;
      dense_.emplace_back(item);
    } else if (sparse_.insert_or_assign(key, item).second) {
      ++count_;
    }
  }
  const Item* Find(uint64_t key) const {
    if (key < dense_.size()) return dense_[key] ? &*dense_[key] : nullptr;
    auto it = sparse_.find(key);
    return it == sparse_.end() ? nullptr : &it->second;
  }

 private:
  std::vector<std::optional<Item>> dense_;
  std::unordered_map<uint64_t, Item> sparse_;
  size_t count_ = 0;
};

class Loader {
 public:
  Loader(std::string_view data, uint64_t max_work)
      : data_(data), max_cost_(std::max<uint64_t>(kMinExpansion, 16 * uint64_t{data.size()})),
        payloads_(data.size(), max_work) {}

  Result<Value> Run();
  uint64_t work() const { return payloads_.work(); }

 private:
  Status Step(uint8_t op, bool* stop);
  Status Error(std::string_view what) const;

  // Input.
  size_t Left() const { return data_.size() - pos_; }
  Status Read(size_t n, std::string_view* out);
  Status ReadLine(std::string_view* out);
  Status ReadUint(int n, uint64_t* out);  // little-endian

  // Stack.
  size_t Fence() const { return marks_.empty() ? 0 : marks_.back(); }
  Status Pop(Value* out);
  Status PopItem(Item* out);
  Status Top(Value** out);
  Status PopMark(size_t* mark);
  void Push(Value v) { stack_.push_back(Item{std::move(v)}); }

  // Building containers.
  Status Adopt(Payload& parent, const Value& child);
  Status Append(Value* list, Value item);
  Status SetItem(Value* dict, Value key, Value value);
  Status MakeTuple(size_t from);
  Status Reduce();

  // Opcode arguments.
  Status LoadLine(internal::LineParser parse);
  Status LoadLong(size_t nbytes);
  enum class Text { kPy2Str, kUnicode, kBytes };
  Status LoadCounted(int len_bytes, Text kind);
  Status LoadGlobal();
  Status MemoKey(int len_bytes, uint64_t* key);

  std::string_view data_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  const uint64_t max_cost_;
  std::vector<Item> stack_;
  std::vector<size_t> marks_;
  Memo memo_;
  uint64_t values_ = 0;  // pushed so far: every value held, in the stack or a container
  // Containers and dict keys: shapes, and hashing and comparing under the work budget.
  Payloads payloads_;
};

Status Loader::Error(std::string_view what) const {
  return Status::Corruption("pickle: " + std::string(what) + " at offset " +
                            std::to_string(op_pos_) + " (opcode " + OpcodeName(op_) + ")");
}

Status Loader::Read(size_t n, std::string_view* out) {
  if (n > Left()) return Error("truncated pickle (needs " + std::to_string(n) + " bytes)");
  *out = data_.substr(pos_, n);
  pos_ += n;
  return Status::OK();
}

Status Loader::ReadLine(std::string_view* out) {
  size_t nl = data_.find('\n', pos_);
  if (nl == std::string_view::npos) return Error("truncated pickle (no newline)");
  *out = data_.substr(pos_, nl - pos_);
  pos_ = nl + 1;
  return Status::OK();
}

Status Loader::ReadUint(int n, uint64_t* out) {
  std::string_view b;
  if (Status s = Read(n, &b); !s.ok()) return s;
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  *out = v;
  return Status::OK();
}

Status Loader::PopItem(Item* out) {
  if (stack_.size() <= Fence()) return Error("stack underflow");
  *out = std::move(stack_.back());
  stack_.pop_back();
  return Status::OK();
}

Status Loader::Pop(Value* out) {
  Item item;
  if (Status s = PopItem(&item); !s.ok()) return s;
  if (item.callable != Callable::kNone) return Error("a global used as a value");
  *out = std::move(item.v);
  return Status::OK();
}

Status Loader::Top(Value** out) {
  if (stack_.size() <= Fence()) return Error("stack underflow");
  if (stack_.back().callable != Callable::kNone) return Error("a global used as a value");
  *out = &stack_.back().v;
  return Status::OK();
}

Status Loader::PopMark(size_t* mark) {
  if (marks_.empty()) return Error("no MARK on the stack");
  *mark = marks_.back();
  marks_.pop_back();
  for (size_t i = *mark; i < stack_.size(); ++i) {
    if (stack_[i].callable != Callable::kNone) return Error("a global used as a value");
  }
  return Status::OK();
}

// Records that `child` is now held by the container `parent`: the child can no
// longer change (so no container ever ends up inside itself), and the parent's
// depth and expanded size grow.
Status Loader::Adopt(Payload& parent, const Value& child) {
  Shape c{0, 1};
  if (child.is_str() || child.is_bytes()) {
    c.cost = 1 + child.as_string().size();
  } else if (ValueAccess::Identity(child)) {
    Payload& n = payloads_.Of(child);
    n.frozen = true;
    c = n.shape;
  }
  if (parent.frozen) {
    return Error("container modified after being nested (recursive pickles are not supported)");
  }
  Shape* shape = &parent.shape;
  shape->depth = std::max(shape->depth, c.depth + 1);
  if (shape->depth > kMaxDepth) return Error("nesting deeper than " + std::to_string(kMaxDepth));
  shape->cost += c.cost;
  if (shape->cost > max_cost_) return Error("memo references expand the value too much");
  return Status::OK();
}

Status Loader::Append(Value* list, Value item) {
  if (!list->is_list()) return Error("append to a non-list");
  if (Status s = Adopt(payloads_.Of(*list), item); !s.ok()) return s;
  ValueAccess::SharedList(*list).push_back(std::move(item));
  return Status::OK();
}

// dict[key] = value with Python's semantics: an equal key keeps its place and
// original object, and gets the new value. The size budget applies before the key is
// hashed, and the key is compared only with keys of the same hash.
Status Loader::SetItem(Value* dict, Value key, Value value) {
  if (!dict->is_dict()) return Error("setitem on a non-dict");
  Payload& node = payloads_.Of(*dict);
  if (Status s = Adopt(node, key); !s.ok()) return s;
  if (Status s = Adopt(node, value); !s.ok()) return s;
  bool hashable;
  size_t hash;
  if (Status s = payloads_.Hash(key, &hashable, &hash); !s.ok()) return Error(s.message());
  if (!hashable) return Error("unhashable dict key");
  Dict& d = ValueAccess::SharedDict(*dict);
  for (size_t at : node.keys.Find(hash)) {
    bool equal;
    if (Status s = payloads_.Equal(d[at].first, key, &equal); !s.ok()) return Error(s.message());
    if (equal) {
      d[at].second = std::move(value);
      return Status::OK();
    }
  }
  node.keys.Add(hash, d.size());
  d.emplace_back(std::move(key), std::move(value));
  return Status::OK();
}

// Replaces stack_[from:] with a tuple of those values.
Status Loader::MakeTuple(size_t from) {
  List items;
  items.reserve(stack_.size() - from);
  for (size_t i = from; i < stack_.size(); ++i) items.push_back(std::move(stack_[i].v));
  stack_.resize(from);
  Value tuple = Value::MakeTuple();
  Payload& node = payloads_.Of(tuple);
  for (const Value& item : items) {
    if (Status s = Adopt(node, item); !s.ok()) return s;
  }
  ValueAccess::SharedList(tuple) = std::move(items);
  Push(std::move(tuple));
  return Status::OK();
}

Status Loader::MemoKey(int len_bytes, uint64_t* key) {
  if (len_bytes > 0) return ReadUint(len_bytes, key);
  std::string_view line;
  if (Status s = ReadLine(&line); !s.ok()) return s;
  auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), *key);
  if (ec != std::errc() || p != line.data() + line.size() || line.empty()) {
    return Error("bad memo key");
  }
  return Status::OK();
}

// A text-line argument (protocol 0) turned into a value by `parse`.
Status Loader::LoadLine(internal::LineParser parse) {
  std::string_view line;
  if (Status s = ReadLine(&line); !s.ok()) return s;
  Value v;
  std::string err;
  if (!parse(line, &v, &err)) return Error(err);
  Push(std::move(v));
  return Status::OK();
}

Status Loader::LoadLong(size_t nbytes) {
  std::string_view b;
  if (Status s = Read(nbytes, &b); !s.ok()) return s;
  int64_t v;
  std::string err;
  if (!internal::DecodeLong(b, &v, &err)) return Error(err);
  Push(Value::Int(v));
  return Status::OK();
}

// A length-prefixed string. Python 2 str (STRING family) is held as a str of its
// raw bytes, which is UTF-8 for everything Swift wrote.
Status Loader::LoadCounted(int len_bytes, Text kind) {
  uint64_t n;
  if (Status s = ReadUint(len_bytes, &n); !s.ok()) return s;
  if (op_ == op::kBinstring && (n & 0x80000000u)) return Error("negative byte count");
  std::string_view body;
  if (Status s = Read(n, &body); !s.ok()) return s;
  if (kind == Text::kBytes) {
    Push(Value::Bytes(std::string(body)));
    return Status::OK();
  }
  if (kind == Text::kUnicode && !internal::IsValidUtf8(body)) return Error("invalid UTF-8");
  Push(Value::Str(std::string(body)));
  return Status::OK();
}

Status Loader::LoadGlobal() {
  std::string_view module, name;
  if (Status s = ReadLine(&module); !s.ok()) return s;
  if (Status s = ReadLine(&name); !s.ok()) return s;
  Callable c = Callable::kNone;
  if (module == "_codecs" && name == "encode") {
    c = Callable::kCodecsEncode;
  } else if ((module == "__builtin__" || module == "builtins") && name == "bytes") {
    c = Callable::kBytesType;
  } else {
    return Error("unsupported global " + std::string(module.substr(0, 64)) + "." +
                 std::string(name.substr(0, 64)));
  }
  stack_.push_back(Item{Value(), c});
  return Status::OK();
}

// The two REDUCE forms Python 3 writes for bytes below protocol 3:
// _codecs.encode(<str>, 'latin1') and bytes() for b''.
Status Loader::Reduce() {
  Value args;
  if (Status s = Pop(&args); !s.ok()) return s;
  Item func;
  if (Status s = PopItem(&func); !s.ok()) return s;
  if (func.callable == Callable::kNone) return Error("REDUCE of a value that is not a global");
  if (!args.is_tuple()) return Error("REDUCE arguments are not a tuple");
  const List& a = args.items();
  if (func.callable == Callable::kBytesType) {
    if (!a.empty()) return Error("bytes() with arguments is not supported");
    Push(Value::Bytes(""));
    return Status::OK();
  }
  if (a.size() != 2 || !a[0].is_str() || !a[1].is_str() ||
      (a[1].as_string() != "latin1" && a[1].as_string() != "latin-1")) {
    return Error("only _codecs.encode(str, 'latin1') is supported");
  }
  const std::string& text = a[0].as_string();
  std::string raw;
  raw.reserve(text.size());
  size_t pos = 0;
  uint32_t cp;
  while (pos < text.size()) {
    if (!internal::NextCodePoint(text, &pos, &cp) || cp > 0xFF) {
      return Error("_codecs.encode argument is not Latin-1");
    }
    raw.push_back(static_cast<char>(cp));
  }
  Push(Value::Bytes(std::move(raw)));
  return Status::OK();
}

Status Loader::Step(uint8_t code, bool* stop) {
  switch (code) {
    case op::kStop:
      *stop = true;
      return Status::OK();
    case op::kProto: {
      uint64_t proto;
      if (Status s = ReadUint(1, &proto); !s.ok()) return s;
      if (proto > 5) return Error("unsupported protocol " + std::to_string(proto));
      return Status::OK();
    }
    case op::kFrame: {  // protocol 4 framing only groups opcodes: skip the header
      uint64_t n;
      if (Status s = ReadUint(8, &n); !s.ok()) return s;
      if (n > Left()) return Error("truncated frame");
      return Status::OK();
    }
    case op::kMark:
      marks_.push_back(stack_.size());
      return Status::OK();
    case op::kPop:
      if (stack_.size() > Fence()) {
        stack_.pop_back();
      } else if (!marks_.empty()) {
        marks_.pop_back();  // as Python does: POP of an empty frame drops the MARK
      } else {
        return Error("stack underflow");
      }
      return Status::OK();
    case op::kPopMark: {
      if (marks_.empty()) return Error("no MARK on the stack");
      stack_.resize(marks_.back());
      marks_.pop_back();
      return Status::OK();
    }
    case op::kDup:
      if (stack_.size() <= Fence()) return Error("stack underflow");
      stack_.push_back(stack_.back());
      return Status::OK();

    case op::kNone: Push(Value()); return Status::OK();
    case op::kNewtrue: Push(Value::Bool(true)); return Status::OK();
    case op::kNewfalse: Push(Value::Bool(false)); return Status::OK();
    case op::kInt: return LoadLine(internal::ParseIntLine);
    case op::kLong: return LoadLine(internal::ParseLongLine);
    case op::kBinint1:
    case op::kBinint2:
    case op::kBinint: {
      int n = code == op::kBinint1 ? 1 : code == op::kBinint2 ? 2 : 4;
      uint64_t v;
      if (Status s = ReadUint(n, &v); !s.ok()) return s;
      Push(Value::Int(n == 4 ? static_cast<int32_t>(v) : static_cast<int64_t>(v)));
      return Status::OK();
    }
    case op::kLong1:
    case op::kLong4: {
      uint64_t n;
      if (Status s = ReadUint(code == op::kLong1 ? 1 : 4, &n); !s.ok()) return s;
      if (code == op::kLong4 && (n & 0x80000000u)) return Error("negative byte count");
      return LoadLong(n);
    }
    case op::kFloat: return LoadLine(internal::ParseFloatLine);
    case op::kBinfloat: {
      uint64_t bits;
      std::string_view b;
      if (Status s = Read(8, &b); !s.ok()) return s;
      bits = 0;
      for (char c : b) bits = (bits << 8) | static_cast<uint8_t>(c);  // big-endian
      double d;
      std::memcpy(&d, &bits, sizeof(d));
      Push(Value::Float(d));
      return Status::OK();
    }

    case op::kString: return LoadLine(internal::ParseStringLine);
    case op::kShortBinstring: return LoadCounted(1, Text::kPy2Str);
    case op::kBinstring: return LoadCounted(4, Text::kPy2Str);
    case op::kUnicode: return LoadLine(internal::ParseUnicodeLine);
    case op::kShortBinunicode: return LoadCounted(1, Text::kUnicode);
    case op::kBinunicode: return LoadCounted(4, Text::kUnicode);
    case op::kBinunicode8: return LoadCounted(8, Text::kUnicode);
    case op::kShortBinbytes: return LoadCounted(1, Text::kBytes);
    case op::kBinbytes: return LoadCounted(4, Text::kBytes);
    case op::kBinbytes8: return LoadCounted(8, Text::kBytes);

    case op::kEmptyList: Push(Value::MakeList()); return Status::OK();
    case op::kEmptyDict: Push(Value::MakeDict()); return Status::OK();
    case op::kEmptyTuple: Push(Value::MakeTuple()); return Status::OK();
    case op::kAppend: {
      Value item, *list;
      if (Status s = Pop(&item); !s.ok()) return s;
      if (Status s = Top(&list); !s.ok()) return s;
      return Append(list, std::move(item));
    }
    case op::kSetitem: {
      Value key, value, *dict;
      if (Status s = Pop(&value); !s.ok()) return s;
      if (Status s = Pop(&key); !s.ok()) return s;
      if (Status s = Top(&dict); !s.ok()) return s;
      return SetItem(dict, std::move(key), std::move(value));
    }
    case op::kAppends:
    case op::kSetitems: {
      size_t m;
      if (Status s = PopMark(&m); !s.ok()) return s;
      if (m == 0 || stack_[m - 1].callable != Callable::kNone) return Error("nothing to add to");
      if (code == op::kSetitems && (stack_.size() - m) % 2) return Error("odd number of items");
      Value* target = &stack_[m - 1].v;
      for (size_t i = m; i < stack_.size(); i += code == op::kAppends ? 1 : 2) {
        Status s = code == op::kAppends
                       ? Append(target, std::move(stack_[i].v))
                       : SetItem(target, std::move(stack_[i].v), std::move(stack_[i + 1].v));
        if (!s.ok()) return s;
      }
      stack_.resize(m);
      return Status::OK();
    }
    case op::kList:
    case op::kDict: {
      size_t m;
      if (Status s = PopMark(&m); !s.ok()) return s;
      if (code == op::kDict && (stack_.size() - m) % 2) return Error("odd number of items");
      Value v = code == op::kList ? Value::MakeList() : Value::MakeDict();
      for (size_t i = m; i < stack_.size(); i += code == op::kList ? 1 : 2) {
        Status s = code == op::kList
                       ? Append(&v, std::move(stack_[i].v))
                       : SetItem(&v, std::move(stack_[i].v), std::move(stack_[i + 1].v));
        if (!s.ok()) return s;
      }
      stack_.resize(m);
      Push(std::move(v));
      return Status::OK();
    }
    case op::kTuple: {
      size_t m;
      if (Status s = PopMark(&m); !s.ok()) return s;
      return MakeTuple(m);
    }
    case op::kTuple1:
    case op::kTuple2:
    case op::kTuple3: {
      size_t n = code - op::kTuple1 + 1;
      if (stack_.size() - Fence() < n) return Error("stack underflow");
      for (size_t i = stack_.size() - n; i < stack_.size(); ++i) {
        if (stack_[i].callable != Callable::kNone) return Error("a global used as a value");
      }
      return MakeTuple(stack_.size() - n);
    }

    case op::kPut:
    case op::kBinput:
    case op::kLongBinput:
    case op::kMemoize: {
      uint64_t key = memo_.size();
      if (code != op::kMemoize) {
        int len = code == op::kPut ? 0 : code == op::kBinput ? 1 : 4;
        if (Status s = MemoKey(len, &key); !s.ok()) return s;
      }
      if (stack_.size() <= Fence()) return Error("stack underflow");
      memo_.Put(key, stack_.back());  // shares the payload, as Python shares the object
      return Status::OK();
    }
    case op::kGet:
    case op::kBinget:
    case op::kLongBinget: {
      uint64_t key;
      int len = code == op::kGet ? 0 : code == op::kBinget ? 1 : 4;
      if (Status s = MemoKey(len, &key); !s.ok()) return s;
      const Item* found = memo_.Find(key);
      if (!found) return Error("memo key " + std::to_string(key) + " not found");
      stack_.push_back(*found);
      return Status::OK();
    }

    case op::kGlobal: return LoadGlobal();
    case op::kReduce: return Reduce();
    default:
      return Error("unsupported opcode");
  }
}

Result<Value> Loader::Run() {
  while (pos_ < data_.size()) {
    op_pos_ = pos_;
    op_ = static_cast<uint8_t>(data_[pos_++]);
    bool stop = false;
    size_t before = stack_.size();
    if (Status s = Step(op_, &stop); !s.ok()) return s;
    // An opcode pushes at most one value: what the stack grew by counts every value made.
    if (stack_.size() > before && (values_ += stack_.size() - before) > kMaxLoadValues) {
      return Error("more than " + std::to_string(kMaxLoadValues) + " values");
    }
    if (stop) {
      if (!marks_.empty()) return Error("MARK left open");
      if (stack_.size() != 1) return Error("stack holds " + std::to_string(stack_.size()) + " items");
      if (stack_[0].callable != Callable::kNone) return Error("a global used as a value");
      if (pos_ != data_.size()) return Error("trailing data after STOP");
      return std::move(stack_[0].v);
    }
  }
  return Status::Corruption("pickle: truncated pickle (no STOP) at offset " +
                            std::to_string(pos_));
}

}  // namespace

Result<Value> Loads(std::string_view data) {
  return Loader(data, std::max(kMinLoadWork, kLoadWorkPerByte * data.size())).Run();
}

namespace internal {
Result<Value> LoadsWithBudget(std::string_view data, uint64_t max_work, uint64_t* work) {
  Loader loader(data, max_work);
  Result<Value> v = loader.Run();
  if (work) *work = loader.work();
  return v;
}
}  // namespace internal

}  // namespace replicant::pickle
