// A fast path for the pickles replication reads most: hashes.pkl and REPLICATE bodies.
//
// Both are pickle.dumps(d, 2) of one flat dict whose keys are str and whose values are
// None, bool, int, float or str. Reading them through the general loader costs most of
// an idle pass; this reads exactly that shape in one forward scan. Anything else, or
// anything it is not sure about (duplicate keys, odd opcodes, memo reads of the dict,
// truncation),
// returns nullopt and the general loader decides, so results and errors are the same.
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "formats/pickle.h"
#include "formats/pickle_internal.h"

namespace replicant::pickle::internal {

std::optional<Value> LoadFlatDict(std::string_view d) {
  if (d.size() < 4 || d[0] != '\x80' || d[1] != '\x02' || d[2] != '}') return std::nullopt;
  size_t p = 3;
  Dict items;
  std::vector<Value> stack;  // values pushed since the dict (keys and values)
  bool marked = false;
  std::unordered_set<std::string_view> keys;
  // Memo writes of the values above (Swift's "" values repeat as memo reads); the
  // dict's own entry (written while the stack is empty) is never read back here.
  std::vector<std::optional<Value>> memo;
  auto put = [&](uint64_t idx) {
    if (idx > d.size()) return false;  // more memo slots than bytes: not ours
    if (memo.size() <= idx) memo.resize(idx + 1);
    memo[idx] = stack.empty() ? std::nullopt : std::optional<Value>(stack.back());
    return true;
  };
  auto get = [&](uint64_t idx) {
    if (idx >= memo.size() || !memo[idx]) return false;
    stack.push_back(*memo[idx]);
    return true;
  };
  auto take = [&](size_t n, std::string_view* out) {
    if (d.size() - p < n) return false;
    *out = d.substr(p, n);
    p += n;
    return true;
  };
  auto le = [](std::string_view b) {
    uint64_t v = 0;
    for (size_t i = b.size(); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  };
  auto add_pairs = [&]() {
    if (stack.size() % 2) return false;
    for (size_t i = 0; i < stack.size(); i += 2) {
      if (!stack[i].is_str()) return false;
      // Keys point into `d`'s copy held by the Value; duplicates take the slow path.
      if (!keys.insert(stack[i].as_string()).second) return false;
      items.emplace_back(std::move(stack[i]), std::move(stack[i + 1]));
    }
    stack.clear();
    return true;
  };
  std::string_view b;
  while (p < d.size()) {
    char op = d[p++];
    switch (op) {
      case 'q':  // BINPUT
        if (!take(1, &b) || !put(le(b))) return std::nullopt;
        break;
      case 'r':  // LONG_BINPUT
        if (!take(4, &b) || !put(le(b))) return std::nullopt;
        break;
      case 'h':  // BINGET
        if (!take(1, &b) || !get(le(b))) return std::nullopt;
        break;
      case 'j':  // LONG_BINGET
        if (!take(4, &b) || !get(le(b))) return std::nullopt;
        break;
      case '(':  // MARK
        if (marked || !stack.empty()) return std::nullopt;
        marked = true;
        break;
      case 'X':    // BINUNICODE
      case '\x8c': {  // SHORT_BINUNICODE
        std::string_view len;
        if (!take(op == 'X' ? 4 : 1, &len)) return std::nullopt;
        uint64_t n = le(len);
        if (n > d.size() || !take(static_cast<size_t>(n), &b) || !IsValidUtf8(b)) {
          return std::nullopt;
        }
        stack.push_back(Value::Str(std::string(b)));
        break;
      }
      case 'N': stack.push_back(Value::None()); break;
      case '\x88': stack.push_back(Value::Bool(true)); break;
      case '\x89': stack.push_back(Value::Bool(false)); break;
      case 'G': {  // BINFLOAT, big-endian
        if (!take(8, &b)) return std::nullopt;
        uint64_t bits = 0;
        for (char c : b) bits = (bits << 8) | static_cast<uint8_t>(c);
        double v;
        std::memcpy(&v, &bits, sizeof v);
        stack.push_back(Value::Float(v));
        break;
      }
      case 'K':  // BININT1
        if (!take(1, &b)) return std::nullopt;
        stack.push_back(Value::Int(static_cast<int64_t>(le(b))));
        break;
      case 'M':  // BININT2
        if (!take(2, &b)) return std::nullopt;
        stack.push_back(Value::Int(static_cast<int64_t>(le(b))));
        break;
      case 'J':  // BININT, signed 32-bit
        if (!take(4, &b)) return std::nullopt;
        stack.push_back(Value::Int(static_cast<int32_t>(static_cast<uint32_t>(le(b)))));
        break;
      case 'u':  // SETITEMS
        if (!marked || !add_pairs()) return std::nullopt;
        marked = false;
        break;
      case 's':  // SETITEM
        if (marked || stack.size() != 2 || !add_pairs()) return std::nullopt;
        break;
      case '.':  // STOP
        if (marked || !stack.empty() || p != d.size()) return std::nullopt;
        return Value::MakeDict(std::move(items));
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;  // no STOP
}

}  // namespace replicant::pickle::internal
