// [hashes] GetHashes, hashes.pkl / hashes.invalid handling, the partition lock and
// quarantine (hashes/partition_hashes.h). Expected digests were computed once with
// Swift 2.30's DiskFileManager._get_hashes on the same trees.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "formats/pickle.h"
#include "hashes/hashes_file.h"
#include "hashes/partition_hashes.h"
#include "diskfile/invalidate.h"
#include "diskfile/partition_lock.h"
#include "tests/unit/hashes_test_util.h"

using namespace replicant;
using namespace replicant::hashes;
using namespace replicant::diskfile;
using replicant::testing::Exists;
using replicant::testing::List;
using replicant::testing::ReadFile;
using replicant::testing::TempDir;
using replicant::testing::WriteFile;

namespace {

// A byte string literal that may hold NULs.
#define BYTES(lit) std::string(lit, sizeof(lit) - 1)

const char* const kEmptyMd5 = "d41d8cd98f00b204e9800998ecf8427e";

// The known tree: <tmp>/sda/objects/9.
std::string MakeKnownTree(const TempDir& tmp) {
  std::string p = tmp / "sda/objects/9";
  WriteFile(p + "/abc/00000000000000000000000000000abc/1400000000.00000.data");
  WriteFile(p + "/abc/00000000000000000000000000000abc/1400000002.00000+186a0.meta");
  WriteFile(p + "/abc/00000000000000000000000000000abc/1399999999.00000.ts");
  WriteFile(p + "/abc/11111111111111111111111111111abc/1400000003.00000_0000000000000001.ts");
  WriteFile(p + "/def/22222222222222222222222222222def/1400000004.00000.data");
  WriteFile(p + "/def/22222222222222222222222222222def/1400000003.00000.data");
  WriteFile(p + "/def/22222222222222222222222222222def/junk.txt");
  WriteFile(p + "/def/22222222222222222222222222222def/1400000005.5.meta");
  WriteFile(p + "/123/33333333333333333333333333333123/junk");
  std::filesystem::create_directories(p + "/456");
  WriteFile(p + "/fed/44444444444444444444444444444fed/1400000006.ts");
  WriteFile(p + "/fed/44444444444444444444444444444fed/1400000006.data");
  WriteFile(p + "/xyz", "a 3-character file");
  return p;
}

const SuffixHashes kKnownHashes = {
    {"abc", "e064ceb82e5f3c1fbd0915a06bbd01ec"},
    {"def", "59a024da171dfebee2e4e4c2e0729664"},
    {"fed", "3888e35e1aecc15aa774962c2ebdc425"},
    {"123", kEmptyMd5},
};

GetHashesOptions NoReclaim() {
  GetHashesOptions o;
  o.reclaim_age = 10000000000;  // the fixed trees' 2014 tombstones must survive
  return o;
}

GetHashesOptions Listing() {
  GetHashesOptions o = NoReclaim();
  o.do_listdir = true;
  return o;
}

pickle::Value LoadPkl(const std::string& part) {
  auto v = pickle::Loads(ReadFile(part + "/hashes.pkl"));
  REQUIRE(v.ok());
  return *v;
}

void WritePkl(const std::string& part, const pickle::Value& v) {
  WriteFile(part + "/hashes.pkl", pickle::Dumps(v));
}

}  // namespace

TEST_CASE("GetHashes: known tree matches Swift's digests and cleanup", "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  auto r = GetHashes(p, Listing());
  REQUIRE(r.ok());
  CHECK(r->hashes == kKnownHashes);
  CHECK(r->hashed == 4);
  CHECK(r->errors.empty());
  // Obsolete files are gone, unexpected ones stay, the empty suffix was removed and
  // the 3-character file left alone.
  CHECK(List(p) == std::set<std::string>{".lock", "hashes.pkl", "xyz", "123", "abc", "def", "fed"});
  CHECK(List(p + "/abc/00000000000000000000000000000abc") ==
        std::set<std::string>{"1400000000.00000.data", "1400000002.00000+186a0.meta"});
  CHECK(List(p + "/def/22222222222222222222222222222def") ==
        std::set<std::string>{"1400000004.00000.data", "1400000005.5.meta", "junk.txt"});
  CHECK(List(p + "/fed/44444444444444444444444444444fed") ==
        std::set<std::string>{"1400000006.ts"});
  pickle::Value pkl = LoadPkl(p);
  REQUIRE(pkl.Get("valid"));
  CHECK(pkl.Get("valid")->type() == pickle::Value::Type::kBool);
  CHECK(pkl.Get("valid")->as_bool());
  REQUIRE(pkl.Get("updated"));
  CHECK(pkl.Get("updated")->type() == pickle::Value::Type::kFloat);
  CHECK(pkl.Get("abc")->as_string() == "e064ceb82e5f3c1fbd0915a06bbd01ec");
  CHECK(pkl.dict().size() == 6);
  // A second call trusts the pickle: nothing is rehashed.
  auto again = GetHashes(p, NoReclaim());
  REQUIRE(again.ok());
  CHECK(again->hashes == kKnownHashes);
  CHECK(again->hashed == 0);
}

TEST_CASE("GetHashes builds only the forms of the answer asked for", "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  REQUIRE(GetHashes(p, Listing()).ok());
  // A stale (None) suffix in the pickle: in the dict, not among the compared hashes.
  pickle::Value pkl = LoadPkl(p);
  pickle::Dict items = pkl.dict();
  items.emplace_back(pickle::Value::Str("aaa"), pickle::Value());
  WritePkl(p, pickle::Value::MakeDict(std::move(items)));
  GetHashesOptions both = NoReclaim();
  auto full = GetHashes(p, both);
  REQUIRE(full.ok());
  CHECK(full->hashes == kKnownHashes);  // 'aaa' was rehashed away (no such dir)
  CHECK(full->dict.dict().size() == 4);
  CHECK(full->dict.Get("valid") == nullptr);

  GetHashesOptions compare = NoReclaim();
  compare.want_dict = false;
  auto only_hashes = GetHashes(p, compare);
  REQUIRE(only_hashes.ok());
  CHECK(only_hashes->hashes == kKnownHashes);
  CHECK(only_hashes->dict.is_none());

  GetHashesOptions answer = NoReclaim();
  answer.want_hashes = false;
  auto only_dict = GetHashes(p, answer);
  REQUIRE(only_dict.ok());
  CHECK(only_dict->hashes.empty());
  CHECK(pickle::Dumps(only_dict->dict) == pickle::Dumps(full->dict));
}

TEST_CASE("GetHashes: reclaim_age drops old tombstones and emptied suffixes", "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  GetHashesOptions o = Listing();
  o.reclaim_age = 604800;  // the 2014 tombstones are older than a week
  auto r = GetHashes(p, o);
  REQUIRE(r.ok());
  CHECK(r->hashes.count("fed") == 0);
  CHECK_FALSE(Exists(p + "/fed"));
  CHECK_FALSE(Exists(p + "/abc/11111111111111111111111111111abc"));
  CHECK(r->hashes.at("abc") != kKnownHashes.at("abc"));
  CHECK(r->hashes.at("def") == kKnownHashes.at("def"));  // .data is never reclaimed
}

TEST_CASE("GetHashes: missing partition is empty and not created", "[hashes]") {
  TempDir tmp;
  auto r = GetHashes(tmp / "sda/objects/1", Listing());
  REQUIRE(r.ok());
  CHECK(r->hashes.empty());
  CHECK_FALSE(Exists(tmp / "sda/objects/1"));
}

TEST_CASE("GetHashes: stale truthy values are kept, falsy ones rehashed", "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  pickle::Value stale = pickle::Value::MakeDict();
  stale.Set("abc", pickle::Value::Str("f" + std::string(31, '0')));  // wrong but truthy
  stale.Set("aaa", pickle::Value::Str("stale"));                     // suffix is gone
  stale.Set("def", pickle::Value::Str(""));                          // falsy
  stale.Set("fed", pickle::Value());
  stale.Set("valid", pickle::Value::Bool(true));
  WritePkl(p, stale);
  auto r = GetHashes(p, NoReclaim());
  REQUIRE(r.ok());
  CHECK(r->hashes == SuffixHashes{{"abc", "f" + std::string(31, '0')}, {"aaa", "stale"},
                                  {"def", kKnownHashes.at("def")}, {"fed", kKnownHashes.at("fed")}});
  // recalculate forces a rehash of a truthy one.
  GetHashesOptions o = NoReclaim();
  o.recalculate = {"abc", "aaa"};
  r = GetHashes(p, o);
  REQUIRE(r.ok());
  CHECK(r->hashes.at("abc") == kKnownHashes.at("abc"));
  CHECK(r->hashes.count("aaa") == 0);
}

TEST_CASE("GetHashes: unreadable hashes.pkl means a full rehash, not an error", "[hashes]") {
  const std::string good = pickle::Dumps([] {
    pickle::Value v = pickle::Value::MakeDict();
    v.Set("abc", pickle::Value::Str("stale"));
    v.Set("valid", pickle::Value::Bool(true));
    return v;
  }());
  // {b'abc': 'stale'} (protocol 3 bytes key), and the str 'abc' (not a dict).
  const std::string bytes_key = BYTES("\x80\x03}C\x03" "abcX\x05\x00\x00\x00stales.");
  const std::string a_str = BYTES("\x80\x02X\x03\x00\x00\x00" "abcq\x00.");
  for (const std::string& pkl : {good.substr(0, good.size() / 2), std::string(),
                                 std::string("garbage"), bytes_key, a_str}) {
    TempDir tmp;
    std::string p = MakeKnownTree(tmp);
    WriteFile(p + "/hashes.pkl", pkl);
    auto r = GetHashes(p, NoReclaim());
    REQUIRE(r.ok());
    CHECK(r->hashes == kKnownHashes);
    CHECK(LoadPkl(p).Get("valid")->as_bool());
  }
  // Python 2's cPickle strings (U opcodes) are str, so this pickle is valid.
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  WriteFile(p + "/hashes.pkl",
            BYTES("\x80\x02}q\x00(U\x03" "abcq\x01U\x05" "stale" "U\x05validq\x02\x88u."));
  auto r = GetHashes(p, NoReclaim());
  REQUIRE(r.ok());
  CHECK(r->hashes.at("abc") == "stale");
  // 'valid': False is invalid too, whatever else the pickle says.
  pickle::Value off = pickle::Value::MakeDict();
  off.Set("abc", pickle::Value::Str("stale"));
  off.Set("valid", pickle::Value::Bool(false));
  WritePkl(p, off);
  r = GetHashes(p, NoReclaim());
  REQUIRE(r.ok());
  CHECK(r->hashes == kKnownHashes);
}

TEST_CASE("hashes.invalid: universal newlines, stripping and truncation", "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  REQUIRE(GetHashes(p, Listing()).ok());
  // A stale entry, then invalidations in every newline style; 'fed' now has a newer
  // .data, which only the invalidation makes us see.
  pickle::Value v = LoadPkl(p);
  v.Set("aaa", pickle::Value::Str("stale"));
  WritePkl(p, v);
  WriteFile(p + "/fed/44444444444444444444444444444fed/1400000007.data");
  WriteFile(p + "/hashes.invalid", " fed \r\nabc\r123\nbbb");
  auto r = GetHashes(p, NoReclaim());
  REQUIRE(r.ok());
  CHECK(r->hashes.at("fed") != kKnownHashes.at("fed"));
  CHECK(r->hashes.at("abc") == kKnownHashes.at("abc"));
  CHECK(r->hashes.at("aaa") == "stale");  // not named: kept
  CHECK(r->hashes.count("bbb") == 0);      // named but missing: dropped
  CHECK(Exists(p + "/hashes.invalid"));
  CHECK(ReadFile(p + "/hashes.invalid").empty());
}

TEST_CASE("hashes.invalid: odd lines poison the pickle and force a fresh rehash", "[hashes]") {
  for (const char* line : {"\n", "  \r\n", "abcd\n", "ABC\n", ".\n", "..\n", "a/b\n"}) {
    INFO(line);
    TempDir tmp;
    std::string p = MakeKnownTree(tmp);
    WriteFile(tmp / "sda/objects/canary");  // Swift would quarantine this for '..'
    REQUIRE(GetHashes(p, Listing()).ok());
    pickle::Value v = LoadPkl(p);
    v.Set("aaa", pickle::Value::Str("stale"));
    WritePkl(p, v);
    WriteFile(p + "/hashes.invalid", line);
    auto r = GetHashes(p, NoReclaim());
    REQUIRE(r.ok());
    CHECK(r->hashes == kKnownHashes);  // the stale entry is gone too
    CHECK(Exists(tmp / "sda/objects/canary"));
    CHECK_FALSE(Exists(tmp / "sda/quarantined"));
    CHECK_FALSE(Exists(tmp / "sda/objects/hashes.invalid"));
    CHECK(LoadPkl(p).dict().size() == 6);
  }
}

TEST_CASE("hashes.invalid: not UTF-8 is left alone and the pickle distrusted", "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  REQUIRE(GetHashes(p, Listing()).ok());
  pickle::Value v = LoadPkl(p);
  v.Set("aaa", pickle::Value::Str("stale"));
  WritePkl(p, v);
  WriteFile(p + "/hashes.invalid", "abc\n\xff\n");
  auto r = GetHashes(p, NoReclaim());
  REQUIRE(r.ok());
  CHECK(r->hashes == kKnownHashes);
  CHECK(ReadFile(p + "/hashes.invalid") == "abc\n\xff\n");
}

TEST_CASE("ConsolidateHashes writes nothing without invalidations", "[hashes]") {
  TempDir tmp;
  std::string p = tmp / "sda/objects/3";
  std::filesystem::create_directories(p);
  auto c = ConsolidateHashes(p, 1);
  REQUIRE(c.ok());
  CHECK_FALSE(Truthy(c->Get("valid")));
  CHECK_FALSE(Exists(p + "/hashes.pkl"));
  WriteFile(p + "/hashes.invalid");
  REQUIRE(ConsolidateHashes(p, 1).ok());
  CHECK_FALSE(Exists(p + "/hashes.pkl"));
  // With a line: written (still invalid, so 'valid' is False) and truncated.
  WriteFile(p + "/hashes.invalid", "abc\n");
  c = ConsolidateHashes(p, 1);
  REQUIRE(c.ok());
  pickle::Value pkl = LoadPkl(p);
  CHECK(pkl.Get("abc")->is_none());
  CHECK_FALSE(pkl.Get("valid")->as_bool());
  CHECK(ReadFile(p + "/hashes.invalid").empty());
}

TEST_CASE("InvalidateHash appends under the lock", "[hashes]") {
  TempDir tmp;
  std::string p = tmp / "sda/objects/4";
  REQUIRE(InvalidateHash(p + "/abc").ok());
  REQUIRE(InvalidateHash(p + "/def").ok());
  CHECK(ReadFile(p + "/hashes.invalid") == "abc\ndef\n");
  CHECK(Exists(p + "/.lock"));
  CHECK(InvalidateHash(p + "/\xff\xfe\xfd").code() == Status::Code::kInvalidArgument);
}

TEST_CASE("InvalidateHashes appends a batch's suffixes at once, as consolidation reads them",
          "[hashes]") {
  TempDir tmp;
  std::string p = tmp / "sda/objects/6";
  REQUIRE(InvalidateHashes(p, {"abc", "def"}).ok());
  CHECK(ReadFile(p + "/hashes.invalid") == "abc\ndef\n");
  REQUIRE(InvalidateHashes(p, {}).ok());
  CHECK(ReadFile(p + "/hashes.invalid") == "abc\ndef\n");
  // A bad name writes nothing, not even the good ones before it.
  CHECK(InvalidateHashes(p, {"123", "\xff"}).code() == Status::Code::kInvalidArgument);
  CHECK(ReadFile(p + "/hashes.invalid") == "abc\ndef\n");
  auto c = ConsolidateHashes(p, 1);
  REQUIRE(c.ok());
  pickle::Value pkl = LoadPkl(p);
  CHECK(pkl.Get("abc")->is_none());
  CHECK(pkl.Get("def")->is_none());
  CHECK(ReadFile(p + "/hashes.invalid").empty());
}

TEST_CASE("PartitionLock times out instead of hanging", "[hashes]") {
  TempDir tmp;
  std::string p = tmp / "sda/objects/5";
  auto held = PartitionLock::Acquire(p);
  REQUIRE(held.ok());
  auto start = std::chrono::steady_clock::now();
  auto second = PartitionLock::Acquire(p, 0.3);
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Status::Code::kUnavailable);
  CHECK(waited >= 0.29);
  CHECK(waited < 2);
  GetHashesOptions o = Listing();
  o.lock_timeout = 0.2;
  auto r = GetHashes(p, o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kUnavailable);
}

TEST_CASE("Quarantine of a file where a hash dir belongs", "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  std::string name = "0123456789abcdef0123456789abcabc";
  WriteFile(p + "/abc/" + name, "not a dir");
  WriteFile(p + "/def/x12", "3-character");
  auto r = GetHashes(p, Listing());
  REQUIRE(r.ok());
  CHECK(r->hashes == kKnownHashes);
  CHECK(ReadFile(tmp / ("sda/quarantined/objects/" + name)) == "not a dir");
  CHECK(ReadFile(tmp / "sda/quarantined/objects/x12") == "3-character");
  // Invalidated after consolidation, so the line waits for the next run; the
  // 3-character name is invalidated "inside" its suffix dir, as Swift does.
  CHECK(ReadFile(p + "/hashes.invalid") == "abc\n");
  CHECK(ReadFile(p + "/def/hashes.invalid") == "x12\n");
  CHECK(Exists(p + "/def/.lock"));

  // A non-empty directory in the way: the rename fails and the suffix stays None.
  TempDir tmp2;
  std::string p2 = MakeKnownTree(tmp2);
  WriteFile(p2 + "/abc/" + name, "not a dir");
  WriteFile(tmp2 / ("sda/quarantined/objects/" + name + "/x"));
  r = GetHashes(p2, Listing());
  REQUIRE(r.ok());
  CHECK(r->hashes.count("abc") == 0);
  REQUIRE(r->dict.Get("abc"));
  CHECK(r->dict.Get("abc")->is_none());
  CHECK(r->errors.size() == 1);
  CHECK(LoadPkl(p2).Get("abc")->is_none());
}

TEST_CASE("GetHashes: no pending invalidations means no lock, a held lock still guards them",
          "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  REQUIRE(GetHashes(p, NoReclaim()).ok());  // writes a valid hashes.pkl
  {
    auto held = PartitionLock::Acquire(p);
    REQUIRE(held.ok());
    GetHashesOptions o = NoReclaim();
    o.lock_timeout = 0.2;
    auto r = GetHashes(p, o);  // reads hashes.pkl only: must not wait for the lock
    REQUIRE(r.ok());
    CHECK(r->hashes == kKnownHashes);
    WriteFile(p + "/hashes.invalid", "");  // empty: still nothing to consolidate
    REQUIRE(GetHashes(p, o).ok());
    WriteFile(p + "/hashes.invalid", "abc\n");  // now consolidation needs the lock
    r = GetHashes(p, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kUnavailable);
  }  // lock released: the invalidation is consolidated and rehashed
  REQUIRE(GetHashes(p, NoReclaim()).ok());
  CHECK(ReadFile(p + "/hashes.invalid").empty());
}

TEST_CASE("GetHashes: a listing that changes nothing leaves hashes.pkl alone", "[hashes]") {
  TempDir tmp;
  std::string p = MakeKnownTree(tmp);
  GetHashesOptions listing = NoReclaim();
  listing.do_listdir = true;
  REQUIRE(GetHashes(p, listing).ok());
  struct stat before, after;
  REQUIRE(stat((p + "/hashes.pkl").c_str(), &before) == 0);
  auto r = GetHashes(p, listing);
  REQUIRE(r.ok());
  CHECK(r->hashes == kKnownHashes);
  REQUIRE(stat((p + "/hashes.pkl").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // not replaced
  // A new suffix found by the listing is written.
  WriteFile(p + "/aaa/55555555555555555555555555555aaa/1400000007.00000.ts");
  r = GetHashes(p, listing);
  REQUIRE(r.ok());
  CHECK(r->hashes.count("aaa") == 1);
  REQUIRE(stat((p + "/hashes.pkl").c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);
  CHECK(LoadPkl(p).Get("aaa")->is_str());
  // A hashes.pkl without 'valid' and 'updated' (old Swift) is rewritten with them, as
  // Swift does, even when its hashes are right.
  pickle::Value bare = pickle::Value::MakeDict();
  for (const auto& [sfx, h] : r->hashes) bare.Set(sfx, pickle::Value::Str(h));
  WritePkl(p, bare);
  REQUIRE(GetHashes(p, listing).ok());
  pickle::Value rewritten = LoadPkl(p);
  REQUIRE(rewritten.Get("valid") != nullptr);
  CHECK(rewritten.Get("valid")->as_bool());
  CHECK(rewritten.Get("updated") != nullptr);
}
