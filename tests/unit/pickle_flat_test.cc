// [pickle] The flat-dict fast path (formats/pickle_flat.h): what it takes, it reads as
// Loads does; everything else it leaves to Loads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "formats/pickle.h"
#include "formats/pickle_flat.h"

using namespace replicant::pickle;

namespace {

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// The flat result as a dict, each entry assigned in order (Python's dict of the pickle).
Value AsDict(const std::vector<FlatEntry>& flat) {
  Value d = Value::MakeDict();
  for (const auto& e : flat) d.Set(e.key, ToValue(e.value));
  return d;
}

// The invariant: taken by the flat path means loaded by Loads, as the same dict.
void CheckAgrees(std::string_view data) {
  auto flat = LoadFlatDict(data);
  if (!flat) return;
  auto v = Loads(data);
  REQUIRE(v.ok());
  REQUIRE(v->is_dict());
  CHECK(Dumps(AsDict(*flat)) == Dumps(*v));
}

// With `odd`, now and then an entry the flat path does not take (non-ASCII text, a long
// key, an int beyond 32 bits).
Value RandomFlatDict(std::mt19937_64& rng, size_t entries, bool odd) {
  auto text = [&](size_t n, bool ascii) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + rng() % 26));
    if (!ascii && n) s.replace(0, 1, "\xc3\xa9");  // é: UTF-8, not ASCII
    return s;
  };
  Dict items;
  for (size_t i = 0; i < entries; ++i) {
    // (One-character and empty str are singletons, written once and then referenced:
    // memo references, so not flat. Only odd dicts have them.)
    size_t shortest = odd ? 0 : 2;
    Value key = Value::Str(text(std::max<size_t>(1, shortest) + rng() % (odd ? 20 : 15),
                                !odd || rng() % 50 != 0));
    Value val;
    switch (rng() % 7) {
      case 0: val = Value(); break;
      case 1: val = Value::Bool(rng() % 2); break;
      case 2: val = Value::Int(static_cast<int64_t>(rng() % 70000) - 100); break;
      case 3:  // LONG1 beyond 32 bits
        val = Value::Int(odd && rng() % 20 == 0 ? static_cast<int64_t>(rng())
                                                : static_cast<int32_t>(rng()));
        break;
      case 4: val = Value::Float(std::ldexp(static_cast<double>(rng() % 1000), -3)); break;
      default: val = Value::Str(text(shortest + rng() % 40, !odd || rng() % 30 != 0)); break;
    }
    items.emplace_back(std::move(key), std::move(val));
  }
  return Value::MakeDict(std::move(items));
}

}  // namespace

TEST_CASE("The flat path reads CPython's pickles of a hashes dict", "[pickle]") {
  // pickle.dumps({'abc': md5, 'f00': None, 'valid': True, 'updated': 1700000000.25}, 2)
  std::string data = Unhex(
      "80027d71002858030000006162637101582000000064343164386364393866303062323034653938"
      "303039393865636638343237657102580300000066303071034e580500000076616c696471048858"
      "070000007570646174656471054741d954fc40100000752e");
  auto flat = LoadFlatDict(data);
  REQUIRE(flat);
  REQUIRE(flat->size() == 4);
  CHECK((*flat)[0].key == "abc");
  CHECK((*flat)[0].value.s == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK((*flat)[1].value.kind == FlatValue::Kind::kNone);
  CHECK((*flat)[2].value.kind == FlatValue::Kind::kBool);
  CHECK((*flat)[2].value.b);
  CHECK((*flat)[3].value.kind == FlatValue::Kind::kFloat);
  CHECK((*flat)[3].value.d == 1700000000.25);
  CheckAgrees(data);
  // One entry: SETITEM, no MARK.
  std::string one = Unhex(
      "80027d710058030000006162637101582000000064343164386364393866303062323034653938"
      "30303939386563663834323765710273" "2e");
  auto single = LoadFlatDict(one);
  REQUIRE(single);
  CHECK(single->size() == 1);
  CheckAgrees(one);
}

TEST_CASE("The flat path takes what Dumps writes and agrees with Loads", "[pickle]") {
  std::mt19937_64 rng(20261205);
  int taken = 0;
  for (int round = 0; round < 400; ++round) {
    bool odd = round % 4 == 0;
    std::string data = Dumps(RandomFlatDict(rng, rng() % 1500, odd));  // batches of 1,000 too
    bool took = LoadFlatDict(data).has_value();
    if (!odd) CHECK(took);
    taken += took;
    CheckAgrees(data);
  }
  CHECK(taken >= 300);
  // A 4,096-suffix answer, past 256 memo puts (LONG_BINPUT): taken.
  Dict big;
  for (int i = 0; i < 4096; ++i) {
    char sfx[4], md5[33];
    std::snprintf(sfx, sizeof sfx, "%03x", i);
    std::snprintf(md5, sizeof md5, "%032x", i);
    big.emplace_back(Value::Str(sfx), Value::Str(md5));
  }
  std::string data = Dumps(Value::MakeDict(std::move(big)));
  auto flat = LoadFlatDict(data);
  REQUIRE(flat);
  CHECK(flat->size() == 4096);
  CheckAgrees(data);
}

TEST_CASE("The flat path leaves every other pickle to Loads", "[pickle]") {
  std::string base = Dumps(Value::MakeDict({{Value::Str("abc"), Value::Str("x")}}));
  REQUIRE(LoadFlatDict(base));
  CHECK_FALSE(LoadFlatDict(base + "."));                       // bytes after STOP
  CHECK_FALSE(LoadFlatDict(base.substr(0, base.size() - 1)));  // no STOP
  std::string proto3 = base;
  proto3[1] = 3;
  CHECK_FALSE(LoadFlatDict(proto3));
  CHECK_FALSE(LoadFlatDict(Dumps(Value::MakeList())));
  CHECK_FALSE(LoadFlatDict(Dumps(Value::MakeDict({{Value::Str("abc"), Value::MakeList()}}))));
  CHECK_FALSE(LoadFlatDict(Dumps(Value::MakeDict({{Value::Int(1), Value::Str("x")}}))));
  CHECK_FALSE(LoadFlatDict(Dumps(Value::MakeDict({{Value::Str("\xc3\xa9"), Value::None()}}))));
  // The same str object twice: a memo reference (BINGET).
  Value same = Value::Str("d41d8cd98f00b204e9800998ecf8427e");
  std::string shared = Dumps(Value::MakeDict({{Value::Str("abc"), same}, {Value::Str("def"), same}}));
  CHECK(shared.find('h') != std::string::npos);
  CHECK_FALSE(LoadFlatDict(shared));
  // A repeated key: both entries, in order; assigned in order they are Python's dict.
  std::string dup = Unhex(
      "80027d710028580300000061626371015801000000787102580300000061626371035801000000797104"
      "752e");
  auto flat = LoadFlatDict(dup);
  REQUIRE(flat);
  CHECK(flat->size() == 2);
  CHECK((*flat)[1].value.s == "y");
  CheckAgrees(dup);
}

TEST_CASE("A damaged flat pickle is refused, or read as Loads reads it", "[pickle]") {
  std::mt19937_64 rng(7);
  std::string data = Dumps(RandomFlatDict(rng, 40, false));
  REQUIRE(LoadFlatDict(data));
  for (size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = data;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      CheckAgrees(bad);
    }
    CheckAgrees(data.substr(0, i));
  }
}
