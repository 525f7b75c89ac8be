#include "formats/pickle_flat.h"

#include <cstring>

#include "formats/pickle_ops.h"

namespace replicant::pickle {

namespace {

// One scan over the bytes. Every Read* returns false for "not the flat shape" (the
// caller then falls back to Loads), never for a decision about validity.
class FlatReader {
 public:
  explicit FlatReader(std::string_view data) : data_(data) {}

  std::optional<std::vector<FlatEntry>> Run() {
    if (!Byte(op::kProto) || !Byte(2) || !Byte(op::kEmptyDict) || !MaybePut()) return {};
    std::vector<FlatEntry> out;
    out.reserve(data_.size() / 48);  // ~46 bytes per suffix -> md5 entry
    while (pos_ < data_.size()) {
      uint8_t code = Peek();
      if (code == op::kStop) {
        ++pos_;
        if (pos_ != data_.size()) return {};
        return out;
      }
      if (code == op::kMark) {
        ++pos_;
        size_t n = 0;
        while (!Byte(op::kSetitems)) {
          FlatEntry e;
          if (!ReadKey(&e.key) || !ReadValue(&e.value) || !Room(out)) return {};
          out.push_back(e);
          ++n;
        }
        if (n == 0) return {};  // CPython never writes an empty batch
        continue;
      }
      FlatEntry e;
      if (!ReadKey(&e.key) || !ReadValue(&e.value) || !Byte(op::kSetitem) || !Room(out)) return {};
      out.push_back(e);
    }
    return {};  // no STOP
  }

 private:
  uint8_t Peek() const { return static_cast<uint8_t>(data_[pos_]); }
  bool Has(size_t n) const { return data_.size() - pos_ >= n; }

  bool Byte(uint8_t want) {
    if (!Has(1) || Peek() != want) return false;
    ++pos_;
    return true;
  }

  uint64_t LE(size_t n) {
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t{static_cast<uint8_t>(data_[pos_ + k])} << (8 * k);
    pos_ += n;
    return v;
  }

  // A memo put, if one follows, numbered as CPython numbers them (BINPUT below 256).
  bool MaybePut() {
    if (!Has(1)) return true;
    if (Peek() == op::kBinput) {
      if (!Has(2) || memo_ >= 256) return false;
      ++pos_;
      if (LE(1) != memo_) return false;
    } else if (Peek() == op::kLongBinput) {
      if (!Has(5) || memo_ < 256) return false;
      ++pos_;
      if (LE(4) != memo_) return false;
    } else {
      return true;
    }
    ++memo_;
    return true;
  }

  // Within Loads' own bounds, with room to spare: its count of values (two per entry)
  // and its work budget, which hashes every key (short ones here).
  static bool Room(const std::vector<FlatEntry>& out) { return out.size() < kMaxLoadValues / 4; }
  bool ReadKey(std::string_view* key) { return ReadStr(key) && key->size() <= kMaxKey; }
  static constexpr size_t kMaxKey = 16;  // a suffix is 3, 'updated' 7

  bool ReadStr(std::string_view* out) {
    if (!Byte(op::kBinunicode) || !Has(4)) return false;
    uint64_t n = LE(4);
    if (!Has(n)) return false;
    for (size_t k = 0; k < n; ++k) {
      if (static_cast<uint8_t>(data_[pos_ + k]) >= 0x80) return false;  // UTF-8 rules: Loads
    }
    *out = data_.substr(pos_, n);
    pos_ += n;
    return MaybePut();
  }

  bool ReadValue(FlatValue* v) {
    if (!Has(1)) return false;
    using K = FlatValue::Kind;
    switch (Peek()) {
      case op::kBinunicode:
        v->kind = K::kStr;
        return ReadStr(&v->s);
      case op::kNone:
        ++pos_;
        v->kind = K::kNone;
        return true;
      case op::kNewtrue:
      case op::kNewfalse:
        v->kind = K::kBool;
        v->b = Peek() == op::kNewtrue;
        ++pos_;
        return true;
      case op::kBinint1:
      case op::kBinint2:
      case op::kBinint: {
        size_t n = Peek() == op::kBinint1 ? 1 : Peek() == op::kBinint2 ? 2 : 4;
        ++pos_;
        if (!Has(n)) return false;
        uint64_t u = LE(n);
        v->kind = K::kInt;
        v->i = n == 4 ? static_cast<int64_t>(static_cast<int32_t>(u)) : static_cast<int64_t>(u);
        return true;
      }
      case op::kBinfloat: {
        ++pos_;
        if (!Has(8)) return false;
        uint64_t bits = 0;
        for (size_t k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<uint8_t>(data_[pos_ + k]);
        pos_ += 8;
        v->kind = K::kFloat;
        std::memcpy(&v->d, &bits, sizeof(bits));
        return true;
      }
      default:
        return false;
    }
  }

  std::string_view data_;
  size_t pos_ = 0;
  uint64_t memo_ = 0;
};

}  // namespace

std::optional<std::vector<FlatEntry>> LoadFlatDict(std::string_view data) {
  return FlatReader(data).Run();
}

Value ToValue(const FlatValue& v) {
  switch (v.kind) {
    case FlatValue::Kind::kNone: return Value::None();
    case FlatValue::Kind::kBool: return Value::Bool(v.b);
    case FlatValue::Kind::kInt: return Value::Int(v.i);
    case FlatValue::Kind::kFloat: return Value::Float(v.d);
    case FlatValue::Kind::kStr: return Value::Str(std::string(v.s));
  }
  return Value::None();
}

}  // namespace replicant::pickle
