// Dumps(): protocol 2, byte for byte what CPython 3's C pickler writes.
//
// CPython memoizes every str, bytes, list, tuple and dict by object identity; here
// identity is the shared payload, so what Loads() read as one object through memo
// references is written once and referenced again, as Python would. CPython also
// keeps one object for '' and for each one-character Latin-1 str (and for b'' and
// each one-byte bytes), so those are memoized by value. Bytes use the
// _codecs.encode(str, 'latin1') reduction Python 3 writes below protocol 3.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "formats/pickle.h"
#include "formats/pickle_internal.h"
#include "formats/pickle_ops.h"

namespace replicant::pickle {
namespace {

constexpr size_t kBatchSize = 1000;  // CPython's BATCHSIZE for APPENDS / SETITEMS

// CPython interns '' and the 256 one-character Latin-1 strings.
bool IsSingletonStr(std::string_view utf8) {
  if (utf8.size() <= 1) return true;
  return utf8.size() == 2 && (static_cast<uint8_t>(utf8[0]) == 0xC2 ||
                              static_cast<uint8_t>(utf8[0]) == 0xC3);
}

class Dumper {
 public:
  std::string Run(const Value& v) {
    out_.push_back(static_cast<char>(op::kProto));
    out_.push_back(2);
    Save(v);
    out_.push_back(static_cast<char>(op::kStop));
    return std::move(out_);
  }

 private:
  using MemoSlot = int64_t;  // -1: not memoized yet

  void Put(MemoSlot* slot) {
    uint32_t idx = next_++;
    *slot = idx;
    if (idx < 256) {
      out_.push_back(static_cast<char>(op::kBinput));
      out_.push_back(static_cast<char>(idx));
    } else {
      out_.push_back(static_cast<char>(op::kLongBinput));
      AppendLE(idx, 4);
    }
  }

  // Writes a memo reference if `slot` is set.
  bool Get(MemoSlot slot) {
    if (slot < 0) return false;
    if (slot < 256) {
      out_.push_back(static_cast<char>(op::kBinget));
      out_.push_back(static_cast<char>(slot));
    } else {
      out_.push_back(static_cast<char>(op::kLongBinget));
      AppendLE(static_cast<uint64_t>(slot), 4);
    }
    return true;
  }

  MemoSlot& SlotFor(const void* id) { return Slot(by_id_, id); }
  template <typename Map, typename Key>
  static MemoSlot& Slot(Map& map, const Key& key) {
    return map.try_emplace(key, -1).first->second;
  }

  void AppendLE(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }

  void SaveInt(int64_t v) {
    if (v >= 0 && v < 256) {
      out_.push_back(static_cast<char>(op::kBinint1));
      AppendLE(v, 1);
    } else if (v >= 0 && v < 65536) {
      out_.push_back(static_cast<char>(op::kBinint2));
      AppendLE(v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_.push_back(static_cast<char>(op::kBinint));
      AppendLE(static_cast<uint32_t>(v), 4);
    } else {
      // LONG1: minimal little-endian two's complement, as pickle.encode_long.
      uint64_t u = static_cast<uint64_t>(v);
      int n = 8;
      auto byte = [&](int i) { return static_cast<uint8_t>(u >> (8 * i)); };
      while (n > 1 && ((v < 0 && byte(n - 1) == 0xFF && (byte(n - 2) & 0x80)) ||
                       (v >= 0 && byte(n - 1) == 0 && !(byte(n - 2) & 0x80)))) {
        --n;
      }
      out_.push_back(static_cast<char>(op::kLong1));
      out_.push_back(static_cast<char>(n));
      AppendLE(u, n);
    }
  }

  void SaveFloat(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(bits));
    out_.push_back(static_cast<char>(op::kBinfloat));
    for (int i = 7; i >= 0; --i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }

  void WriteUnicode(std::string_view utf8) {
    if (!internal::IsValidUtf8(utf8)) {
      // Only a Python 2 str holds bytes that are not UTF-8 (Loads keeps its raw bytes):
      // written back as the Python 2 str it was, since BINUNICODE could not load.
      bool short_form = utf8.size() < 256;
      out_.push_back(static_cast<char>(short_form ? op::kShortBinstring : op::kBinstring));
      AppendLE(utf8.size(), short_form ? 1 : 4);
      out_.append(utf8);
      return;
    }
    out_.push_back(static_cast<char>(op::kBinunicode));
    AppendLE(utf8.size(), 4);
    out_.append(utf8);
  }

  // A str object; `slot` is its memo slot (by identity or by value).
  void SaveStr(std::string_view utf8, MemoSlot* slot) {
    if (Get(*slot)) return;
    WriteUnicode(utf8);
    Put(slot);
  }

  void SaveGlobal(const char* module_and_name, MemoSlot* slot) {
    if (Get(*slot)) return;
    out_.push_back(static_cast<char>(op::kGlobal));
    out_.append(module_and_name);
    Put(slot);
  }

  void SaveBytes(const Value& v) {
    const std::string& raw = v.as_string();
    bool singleton = raw.size() <= 1;
    MemoSlot& slot = singleton ? Slot(bytes_by_value_, raw) : SlotFor(ValueAccess::Identity(v));
    if (Get(slot)) return;
    if (raw.empty()) {  // bytes()
      SaveGlobal("__builtin__\nbytes\n", &bytes_global_);
      out_.push_back(static_cast<char>(op::kEmptyTuple));
    } else {  // _codecs.encode(raw.decode('latin1'), 'latin1')
      SaveGlobal("_codecs\nencode\n", &encode_global_);
      std::string text;
      text.reserve(raw.size() * 2);
      for (char c : raw) internal::AppendUtf8(static_cast<uint8_t>(c), &text);
      MemoSlot temp = -1;  // a fresh str object, unless CPython's one-char singleton
      SaveStr(text, raw.size() == 1 ? &Slot(str_by_value_, text) : &temp);
      SaveStr("latin1", &latin1_);
      out_.push_back(static_cast<char>(op::kTuple2));
      MemoSlot args = -1;
      Put(&args);
    }
    out_.push_back(static_cast<char>(op::kReduce));
    Put(&slot);
  }

  // Items of a list (or key/value pairs of a dict) in CPython's batches: a single
  // item uses APPEND/SETITEM; otherwise MARK ... APPENDS per 1000, even for a
  // final batch of one.
  template <typename Seq, typename SaveOne>
  void Batched(const Seq& seq, char one, char many, SaveOne save_one) {
    if (seq.empty()) return;
    if (seq.size() == 1) {
      save_one(seq[0]);
      out_.push_back(one);
      return;
    }
    for (size_t start = 0; start < seq.size(); start += kBatchSize) {
      out_.push_back(static_cast<char>(op::kMark));
      size_t end = std::min(seq.size(), start + kBatchSize);
      for (size_t i = start; i < end; ++i) save_one(seq[i]);
      out_.push_back(many);
    }
  }

  void Save(const Value& v) {
    switch (v.type()) {
      case Value::Type::kNone:
        out_.push_back(static_cast<char>(op::kNone));
        return;
      case Value::Type::kBool:
        out_.push_back(static_cast<char>(v.as_bool() ? op::kNewtrue : op::kNewfalse));
        return;
      case Value::Type::kInt:
        SaveInt(v.as_int());
        return;
      case Value::Type::kFloat:
        SaveFloat(v.as_float());
        return;
      case Value::Type::kStr: {
        const std::string& s = v.as_string();
        SaveStr(s, IsSingletonStr(s) ? &Slot(str_by_value_, s)
                                     : &SlotFor(ValueAccess::Identity(v)));
        return;
      }
      case Value::Type::kBytes:
        SaveBytes(v);
        return;
      case Value::Type::kList: {
        MemoSlot& slot = SlotFor(ValueAccess::Identity(v));
        if (Get(slot)) return;
        out_.push_back(static_cast<char>(op::kEmptyList));
        Put(&slot);
        Batched(v.items(), op::kAppend, op::kAppends, [this](const Value& item) { Save(item); });
        return;
      }
      case Value::Type::kTuple: {
        const List& items = v.items();
        if (items.empty()) {  // the () singleton is never memoized
          out_.push_back(static_cast<char>(op::kEmptyTuple));
          return;
        }
        MemoSlot& slot = SlotFor(ValueAccess::Identity(v));
        if (Get(slot)) return;
        if (items.size() > 3) out_.push_back(static_cast<char>(op::kMark));
        for (const Value& item : items) Save(item);
        int code = items.size() > 3 ? int{op::kTuple} : op::kTuple1 + int(items.size()) - 1;
        out_.push_back(static_cast<char>(code));
        Put(&slot);  // (references into an unordered_map survive rehashing)
        return;
      }
      case Value::Type::kDict: {
        MemoSlot& slot = SlotFor(ValueAccess::Identity(v));
        if (Get(slot)) return;
        out_.push_back(static_cast<char>(op::kEmptyDict));
        Put(&slot);
        Batched(v.dict(), op::kSetitem, op::kSetitems, [this](const auto& kv) {
          Save(kv.first);
          Save(kv.second);
        });
        return;
      }
    }
  }

  std::string out_;
  uint32_t next_ = 0;
  std::unordered_map<const void*, MemoSlot> by_id_;
  std::unordered_map<std::string, MemoSlot> str_by_value_;
  std::unordered_map<std::string, MemoSlot> bytes_by_value_;
  MemoSlot encode_global_ = -1, bytes_global_ = -1, latin1_ = -1;
};

}  // namespace

std::string Dumps(const Value& v) { return Dumper().Run(v); }

}  // namespace replicant::pickle
