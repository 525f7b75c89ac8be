// Value: construction, copy-on-write, Python equality and hashing, UTF-8 helpers.
#include <cmath>
#include <functional>
#include <unordered_map>

#include "formats/pickle.h"
#include "formats/pickle_internal.h"

namespace replicant::pickle {

namespace {

const std::string& EmptyString() {
  static const std::string kEmpty;
  return kEmpty;
}
const List& EmptyList() {
  static const List kEmpty;
  return kEmpty;
}
const Dict& EmptyDict() {
  static const Dict kEmpty;
  return kEmpty;
}

bool IsNumber(Value::Type t) {
  return t == Value::Type::kBool || t == Value::Type::kInt || t == Value::Type::kFloat;
}

// The int64 a float equals exactly, if any (Python compares int and float exactly).
bool FloatAsInt(double d, int64_t* out) {
  if (!std::isfinite(d) || d != std::trunc(d)) return false;
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

bool NumbersEqual(const Value& a, const Value& b) {
  bool af = a.type() == Value::Type::kFloat, bf = b.type() == Value::Type::kFloat;
  if (af && bf) return a.as_float() == b.as_float();
  if (!af && !bf) return a.as_int() == b.as_int();
  const Value& f = af ? a : b;
  const Value& i = af ? b : a;
  int64_t fi;
  return FloatAsInt(f.as_float(), &fi) && fi == i.as_int();
}

bool DictsEqual(const Dict& a, const Dict& b) {
  if (a.size() != b.size()) return false;
  // Fast path: same order, which is what a round trip produces.
  size_t i = 0;
  while (i < a.size() && a[i].first == b[i].first) {
    if (!(a[i].second == b[i].second)) return false;
    ++i;
  }
  if (i == a.size()) return true;
  // Keys are unique on each side, so finding each key of `a` in `b` with an equal
  // value is equality. Index `b` by hash to stay linear on large dicts.
  std::unordered_multimap<size_t, size_t> index;
  for (size_t j = i; j < b.size(); ++j) {
    size_t h;
    if (!internal::HashValue(b[j].first, &h)) return false;
    index.emplace(h, j);
  }
  for (; i < a.size(); ++i) {
    size_t h;
    if (!internal::HashValue(a[i].first, &h)) return false;
    auto [lo, hi] = index.equal_range(h);
    bool found = false;
    for (auto it = lo; it != hi && !found; ++it) {
      const auto& entry = b[it->second];
      if (entry.first == a[i].first) {
        if (!(entry.second == a[i].second)) return false;
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

size_t Mix(size_t h, size_t v) { return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)); }

}  // namespace

Value::Value(const Value& o)
    : type_(o.type_), b_(o.b_), i_(o.i_), d_(o.d_), s_(o.s_) {
  // A Value whose container may be mutated through a reference it handed out
  // must not share that container with the copy.
  if (o.list_) list_ = o.unshareable_ ? std::make_shared<List>(*o.list_) : o.list_;
  if (o.dict_) dict_ = o.unshareable_ ? std::make_shared<Dict>(*o.dict_) : o.dict_;
}

Value& Value::operator=(const Value& o) {
  if (this != &o) *this = Value(o);
  return *this;
}

Value::Value(Value&& o) noexcept
    : type_(o.type_), b_(o.b_), unshareable_(o.unshareable_), i_(o.i_), d_(o.d_),
      s_(std::move(o.s_)), list_(std::move(o.list_)), dict_(std::move(o.dict_)) {
  o = Value();
}

Value& Value::operator=(Value&& o) noexcept {
  if (this == &o) return *this;
  type_ = o.type_;
  b_ = o.b_;
  unshareable_ = o.unshareable_;
  i_ = o.i_;
  d_ = o.d_;
  s_ = std::move(o.s_);
  list_ = std::move(o.list_);
  dict_ = std::move(o.dict_);
  o.type_ = Type::kNone;
  o.b_ = o.unshareable_ = false;
  o.i_ = 0;
  o.d_ = 0;
  return *this;
}

Value Value::Bool(bool b) {
  Value v;
  v.type_ = Type::kBool;
  v.b_ = b;
  v.i_ = b ? 1 : 0;
  return v;
}

Value Value::Int(int64_t i) {
  Value v;
  v.type_ = Type::kInt;
  v.i_ = i;
  return v;
}

Value Value::Float(double d) {
  Value v;
  v.type_ = Type::kFloat;
  v.d_ = d;
  return v;
}

Value Value::Str(std::string utf8) {
  Value v;
  v.type_ = Type::kStr;
  v.s_ = std::make_shared<const std::string>(std::move(utf8));
  return v;
}

Value Value::Bytes(std::string raw) {
  Value v;
  v.type_ = Type::kBytes;
  v.s_ = std::make_shared<const std::string>(std::move(raw));
  return v;
}

Value Value::MakeList(List items) {
  Value v;
  v.type_ = Type::kList;
  v.list_ = std::make_shared<List>(std::move(items));
  return v;
}

Value Value::MakeTuple(List items) {
  Value v;
  v.type_ = Type::kTuple;
  v.list_ = std::make_shared<List>(std::move(items));
  return v;
}

Value Value::MakeDict(Dict items) {
  Value v;
  v.type_ = Type::kDict;
  v.dict_ = std::make_shared<Dict>(std::move(items));
  return v;
}

const std::string& Value::as_string() const { return s_ ? *s_ : EmptyString(); }
const List& Value::items() const { return list_ ? *list_ : EmptyList(); }
const Dict& Value::dict() const { return dict_ ? *dict_ : EmptyDict(); }

List& Value::items() {
  if (!list_) {
    list_ = std::make_shared<List>();
  } else if (list_.use_count() > 1) {
    list_ = std::make_shared<List>(*list_);
  }
  unshareable_ = true;
  return *list_;
}

Dict& Value::dict() {
  if (!dict_) {
    dict_ = std::make_shared<Dict>();
  } else if (dict_.use_count() > 1) {
    dict_ = std::make_shared<Dict>(*dict_);
  }
  unshareable_ = true;
  return *dict_;
}

const Value* Value::Get(std::string_view str_key) const {
  for (const auto& [k, v] : dict()) {
    if (k.is_str() && k.as_string() == str_key) return &v;
  }
  return nullptr;
}

void Value::Set(std::string_view str_key, Value v) {
  if (type_ != Type::kDict) return;
  for (auto& [k, old] : dict()) {
    if (k.is_str() && k.as_string() == str_key) {
      old = std::move(v);
      return;
    }
  }
  dict().emplace_back(Value::Str(std::string(str_key)), std::move(v));
}

bool Value::operator==(const Value& o) const {
  if (IsNumber(type_) && IsNumber(o.type_)) return NumbersEqual(*this, o);
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kNone:
      return true;
    case Type::kStr:
    case Type::kBytes:
      return s_ == o.s_ || as_string() == o.as_string();
    case Type::kList:
    case Type::kTuple: {
      if (list_ == o.list_) return true;  // shared payload (memo reference)
      const List& a = items();
      const List& b = o.items();
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!(a[i] == b[i])) return false;
      }
      return true;
    }
    case Type::kDict:
      return dict_ == o.dict_ || DictsEqual(dict(), o.dict());
    default:
      return false;  // numbers handled above
  }
}

namespace internal {

size_t MixHash(size_t h, size_t v) { return Mix(h, v); }

bool HashScalar(const Value& v, size_t* hash) {
  switch (v.type()) {
    case Value::Type::kNone:
      *hash = 0x6e6f6e65;
      return true;
    case Value::Type::kBool:
    case Value::Type::kInt:
      *hash = std::hash<int64_t>()(v.as_int());
      return true;
    case Value::Type::kFloat: {
      int64_t i;
      if (FloatAsInt(v.as_float(), &i)) {
        *hash = std::hash<int64_t>()(i);
      } else {
        *hash = std::hash<double>()(v.as_float());
      }
      return true;
    }
    case Value::Type::kStr:
      *hash = Mix(1, std::hash<std::string_view>()(v.as_string()));
      return true;
    case Value::Type::kBytes:
      *hash = Mix(2, std::hash<std::string_view>()(v.as_string()));
      return true;
    default:
      return false;  // containers
  }
}

bool HashValue(const Value& v, size_t* hash) {
  if (!v.is_tuple()) return HashScalar(v, hash);
  size_t h = kTupleHashSeed;
  for (const Value& item : v.items()) {
    size_t ih;
    if (!HashValue(item, &ih)) return false;
    h = Mix(h, ih);
  }
  *hash = h;
  return true;
}


bool NextCodePoint(std::string_view s, size_t* pos, uint32_t* cp) {
  size_t i = *pos;
  if (i >= s.size()) return false;
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(i);
  int extra;
  uint32_t c, min;
  if (b0 < 0x80) {
    *cp = b0;
    *pos = i + 1;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    extra = 1, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    extra = 2, c = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    extra = 3, c = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (s.size() - i <= static_cast<size_t>(extra)) return false;
  for (int k = 1; k <= extra; ++k) {
    uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return false;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF) return false;  // overlong or out of range
  *cp = c;
  *pos = i + 1 + extra;
  return true;
}

bool IsValidUtf8(std::string_view s) {
  size_t pos = 0;
  uint32_t cp;
  while (pos < s.size()) {
    if (!NextCodePoint(s, &pos, &cp)) return false;
  }
  return true;
}

}  // namespace internal
}  // namespace replicant::pickle
