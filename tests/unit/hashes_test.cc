// [hashes] on-disk file names, obsolescence, cleanup and reclaim (hashes/ondisk_files.h),
// Swift's Timestamp corner cases and the Python str helpers they rely on.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "diskfile/fs_util.h"
#include "diskfile/ondisk_files.h"
#include "formats/pystr.h"
#include "diskfile/timestamp.h"
#include "tests/unit/hashes_test_util.h"

using namespace replicant;
using namespace replicant::diskfile;
using replicant::testing::Exists;
using replicant::testing::List;
using replicant::testing::TempDir;
using replicant::testing::WriteFile;

namespace {

std::string Internal(std::string_view name) {
  auto f = ParseOnDiskFilename(name);
  REQUIRE(f.ok());
  return f->timestamp.internal();
}

std::vector<std::string> Names(const std::vector<OnDiskFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("ParseOnDiskFilename: extensions and kinds", "[hashes]") {
  auto d = ParseOnDiskFilename("1400000000.00000.data");
  REQUIRE(d.ok());
  CHECK(d->kind == FileKind::kData);
  CHECK(d->ext == ".data");
  CHECK(d->timestamp.internal() == "1400000000.00000");
  CHECK(ParseOnDiskFilename("1400000000.ts")->kind == FileKind::kTombstone);
  // Unknown extensions parse (and can become obsolete); the last dot wins.
  auto o = ParseOnDiskFilename("1400000000.00000.DATA");
  REQUIRE(o.ok());
  CHECK(o->kind == FileKind::kOther);
  CHECK(o->ext == ".DATA");
  auto noext = ParseOnDiskFilename("1400000000");
  REQUIRE(noext.ok());
  CHECK(noext->ext.empty());
  // splitext: leading dots are not a separator, so ".data" is a stem without extension.
  CHECK_FALSE(ParseOnDiskFilename(".data").ok());
  CHECK_FALSE(ParseOnDiskFilename("..data").ok());
  CHECK(ParseOnDiskFilename(".12345")->timestamp.internal() == "0000000000.12345");
  CHECK_FALSE(ParseOnDiskFilename("1400000000.data.tmp").ok());
  CHECK_FALSE(ParseOnDiskFilename("junk").ok());
}

TEST_CASE("ParseOnDiskFilename: Python float() and int(x, 16) syntax", "[hashes]") {
  CHECK(Internal("1e3.data") == "0000001000.00000");
  CHECK(Internal(" 12 .data") == "0000000012.00000");
  CHECK(Internal("+12.data") == "0000000012.00000");
  CHECK(Internal("12_.data") == "0000000012.00000");  // empty offset is 0
  CHECK(Internal("12_0x1F.ts") == "0000000012.00000_000000000000001f");
  CHECK(Internal("12_ 1f .ts") == "0000000012.00000_000000000000001f");
  // Python accepts a negative offset and formats it with the sign inside the width.
  CHECK(Internal("12_-5.data") == "0000000012.00000_-000000000000005");
  CHECK(Internal("12_-0.data") == "0000000012.00000");
  // Unicode digits and spaces, as float() sees them.
  CHECK(Internal("\xd9\xa1\xd9\xa2\xd9\xa3.data") == "0000000123.00000");
  CHECK(Internal("\xe2\x80\x83" "99.ts") == "0000000099.00000");
  CHECK(Internal("-0.data") == "-000000000.00000");
  CHECK(Internal("9999999999.99999.data") == "9999999999.99999");
  for (const char* bad : {"0x10.data", "nan.ts", "inf.data", "1e400.data", "-1.data",
                          "10000000000.data", "1_2_3.data", "12_1_.data", "12_zz.data",
                          "12__1.data", "\xff.data", "1\x1c.data", "12_10000000000000000.data"}) {
    INFO(bad);
    CHECK_FALSE(ParseOnDiskFilename(bad).ok());
  }
}

TEST_CASE("ParseOnDiskFilename: .meta content-type deltas", "[hashes]") {
  auto m = ParseOnDiskFilename("1400000000.00000.meta");
  REQUIRE(m.ok());
  CHECK(m->kind == FileKind::kMeta);
  CHECK_FALSE(m->ctype_timestamp.has_value());
  auto plus = ParseOnDiskFilename("1400000000.00000+64.meta");
  REQUIRE(plus.ok());
  CHECK(plus->timestamp.internal() == "1400000000.00000");
  CHECK(plus->ctype_timestamp->internal() == "1400000000.00100");
  CHECK(ParseOnDiskFilename("1400000000.00000-64.meta")->ctype_timestamp->internal() ==
        "1399999999.99900");
  // +0 keeps t1 itself, offset included.
  auto zero = ParseOnDiskFilename("1400000000.00000_0000000000000002+0.meta");
  REQUIRE(zero.ok());
  CHECK(zero->ctype_timestamp->internal() == "1400000000.00000_0000000000000002");
  // A third delta is checked but unused; a fourth is not even looked at.
  CHECK(ParseOnDiskFilename("1400000000+a+b.meta").ok());
  CHECK(ParseOnDiskFilename("1400000000+a+b+zz.meta").ok());
  CHECK_FALSE(ParseOnDiskFilename("1400000000+a+zz.meta").ok());
  CHECK_FALSE(ParseOnDiskFilename("1400000000+zz.meta").ok());
  CHECK_FALSE(ParseOnDiskFilename("1400000000+.meta").ok());
  CHECK_FALSE(ParseOnDiskFilename("1e-3.meta").ok());  // split on '-' first
  CHECK_FALSE(ParseOnDiskFilename("1-5f5e1000000.meta").ok());  // ctype below zero
  CHECK(ParseOnDiskFilename("1e-3.data").ok());
}

TEST_CASE("GetOnDiskFiles: a tombstone wins ties and obsoletes older files", "[hashes]") {
  OnDiskFiles f = GetOnDiskFiles({"3.ts", "2.data", "1.meta", "3.meta", "4.meta", "2.ts"});
  REQUIRE(f.ts_info);
  CHECK(f.ts_info->name == "3.ts");
  CHECK_FALSE(f.data_info);
  CHECK_FALSE(f.meta_info);  // only reported with a .data
  CHECK(Names(f.obsolete) == std::vector<std::string>{"1.meta", "2.data", "2.ts", "3.meta"});
  CHECK(Names(f.possible_reclaim) == std::vector<std::string>{"4.meta"});
  OnDiskFiles tie = GetOnDiskFiles({"1.ts", "1.data"});
  CHECK(tie.ts_info->name == "1.ts");
  CHECK(Names(tie.obsolete) == std::vector<std::string>{"1.data"});
}

TEST_CASE("GetOnDiskFiles: newest .data obsoletes older files of any extension", "[hashes]") {
  OnDiskFiles f = GetOnDiskFiles({"5.meta", "4.data", "4.00000.data", "3.ts", "3.data",
                                  "4.foo", "6.foo", "2.meta", "junk", "4"});
  REQUIRE(f.data_info);
  CHECK(f.data_info->name == "4.data");  // equal-time .data files are all kept
  CHECK(f.meta_info->name == "5.meta");
  CHECK_FALSE(f.ts_info);
  CHECK_FALSE(f.ctype_info);
  CHECK(Names(f.obsolete) == std::vector<std::string>{"2.meta", "3.data", "3.ts", "4", "4.foo"});
  CHECK(f.unexpected == std::vector<std::string>{"junk"});
  CHECK(f.possible_reclaim.empty());
}

TEST_CASE("GetOnDiskFiles: .meta files and content-type times", "[hashes]") {
  // The older .meta carries a newer content type: both are kept.
  OnDiskFiles both = GetOnDiskFiles({"5.meta", "4.00000+186a0.meta", "3.meta", "1.data"});
  CHECK(both.meta_info->name == "5.meta");
  REQUIRE(both.ctype_info);
  CHECK(both.ctype_info->name == "4.00000+186a0.meta");
  CHECK(Names(both.obsolete) == std::vector<std::string>{"3.meta"});
  // Same time: the one with the newer content type replaces the newest.
  std::vector<std::string> names = {"5.00000.meta", "5.00000+64.meta", "1.data"};
  std::sort(names.rbegin(), names.rend());
  OnDiskFiles same = GetOnDiskFiles(names);
  CHECK(same.meta_info->name == "5.00000+64.meta");
  CHECK(same.ctype_info->name == "5.00000+64.meta");
  CHECK(Names(same.obsolete) == std::vector<std::string>{"5.00000.meta"});
  // A content type no newer than the .data is not reported.
  OnDiskFiles old_ctype = GetOnDiskFiles({"5.00000-186a0.meta", "4.5.data"});
  CHECK(old_ctype.meta_info);
  CHECK_FALSE(old_ctype.ctype_info);
  // Without a .data, .meta files are only candidates for reclaim.
  OnDiskFiles orphan = GetOnDiskFiles({"5.meta", "4+1.meta"});
  CHECK_FALSE(orphan.meta_info);
  CHECK(Names(orphan.possible_reclaim) == std::vector<std::string>{"4+1.meta", "5.meta"});
}

TEST_CASE("CleanupOnDiskFiles: obsolete files, reclaim and empty dirs", "[hashes]") {
  TempDir tmp;
  const double now = 2000000000;
  const int64_t reclaim = 1000;
  std::string h = tmp / "h";
  WriteFile(h + "/1999990000.00000.data");
  WriteFile(h + "/1999999500.00000.data");
  WriteFile(h + "/1999999600.00000.meta");
  WriteFile(h + "/1999999000.00000.foo");
  WriteFile(h + "/junk");
  auto r = CleanupOnDiskFiles(h, reclaim, now);
  REQUIRE(r.ok());
  CHECK(List(h) == std::set<std::string>{"1999999500.00000.data", "1999999600.00000.meta", "junk"});
  CHECK(r->remaining == std::vector<std::string>{"junk", "1999999600.00000.meta", "1999999500.00000.data"});
  CHECK_FALSE(r->dir_removed);

  // A tombstone older than reclaim_age goes, and then the empty dir; the comparison
  // is strict, so one exactly reclaim_age old stays.
  std::string t = tmp / "t";
  WriteFile(t + "/1999998999.00000.ts");
  WriteFile(t + "/1999998998.00000.data");
  r = CleanupOnDiskFiles(t, reclaim, now);
  REQUIRE(r.ok());
  CHECK(r->dir_removed);
  CHECK_FALSE(Exists(t));
  std::string edge = tmp / "edge";
  WriteFile(edge + "/1999999000.00000.ts");
  r = CleanupOnDiskFiles(edge, reclaim, now);
  REQUIRE(r.ok());
  CHECK(r->files.ts_info);
  CHECK(Exists(edge + "/1999999000.00000.ts"));

  // Orphan .meta files are reclaimed by age; .data files never are.
  std::string m = tmp / "m";
  WriteFile(m + "/1999998000.00000+5f5e100.meta");  // retained: newer content type
  WriteFile(m + "/1999999999.00000.meta");
  r = CleanupOnDiskFiles(m, reclaim, now);
  REQUIRE(r.ok());
  CHECK(List(m) == std::set<std::string>{"1999999999.00000.meta"});
  std::string m2 = tmp / "m2";
  WriteFile(m2 + "/1000000000.00000.meta");
  r = CleanupOnDiskFiles(m2, reclaim, now);
  REQUIRE(r.ok());
  CHECK(r->dir_removed);
  std::string d = tmp / "d";
  WriteFile(d + "/1000000000.00000.data");
  REQUIRE(CleanupOnDiskFiles(d, reclaim, now).ok());
  CHECK(Exists(d + "/1000000000.00000.data"));

  CHECK(CleanupOnDiskFiles(tmp / "missing", reclaim, now).status().IsNotFound());
  WriteFile(tmp / "file");
  CHECK(CleanupOnDiskFiles(tmp / "file", reclaim, now).status().code() ==
        Status::Code::kInvalidArgument);
}

TEST_CASE("Timestamp: negative offsets order as Swift's internal strings", "[hashes]") {
  auto plain = Timestamp::Parse("123");
  auto neg = Timestamp::Parse("123_-5");
  auto neg_big = Timestamp::Parse("123_-a");
  auto pos = Timestamp::Parse("123_1");
  REQUIRE((plain.ok() && neg.ok() && neg_big.ok() && pos.ok()));
  CHECK(neg->offset_negative());
  CHECK(*plain < *neg);
  CHECK(*neg < *neg_big);  // "-000000000000005" < "-00000000000000a"
  CHECK(*neg_big < *pos);
  CHECK(Timestamp::Parse("123.000001")->raw() == 12300000);
}

TEST_CASE("pystr: file names as Python str", "[hashes]") {
  CHECK(pystr::FromFsName("abc") == "abc");
  CHECK(pystr::FromFsName("\xff") == "\xed\xb3\xbf");  // U+DCFF, as pickle stores it
  std::string back;
  REQUIRE(pystr::ToFsName(pystr::FromFsName("a\xff\xc3\xa9"), &back));
  CHECK(back == "a\xff\xc3\xa9");
  CHECK(pystr::Length("\xc3\xa9" "0f") == 3);
  CHECK(pystr::Length(pystr::FromFsName("\xff\xfe\xfd")) == 3);
  CHECK(pystr::Strip(" \t\x1c" "abc\xc2\x85\r") == "abc");
  CHECK(pystr::Strip("\xef\xbb\xbf" "abc") == "\xef\xbb\xbf" "abc");  // BOM is not space
  CHECK_FALSE(pystr::IsStrictUtf8("\xed\xa0\x80"));
  std::vector<std::string> names = {"\xff", "\xc3\xa9", "zz", "\xf0\x9f\x98\x80", "~"};
  fs::SortPythonOrder(&names);
  // Code point order: 'zz' < '~' < U+00E9 < U+DCFF (the 0xff byte) < U+1F600.
  CHECK(names == std::vector<std::string>{"zz", "~", "\xc3\xa9", "\xff", "\xf0\x9f\x98\x80"});
}

TEST_CASE("ListDirEntries lists names with their types; ListDir the same names",
          "[hashes]") {
  TempDir tmp;
  WriteFile(tmp / "a1f/x");  // makes the dir a1f
  WriteFile(tmp / "hashes.pkl", "x");
  REQUIRE(symlink("a1f", (tmp / "link").c_str()) == 0);
  std::vector<fs::DirEntry> entries;
  REQUIRE(fs::ListDirEntries(tmp.path(), &entries) == 0);
  std::map<std::string, unsigned char> got;
  for (const auto& e : entries) got[e.name] = e.type;
  REQUIRE(got.size() == 3);  // no "." or ".."
  CHECK(got["a1f"] == DT_DIR);
  CHECK(got["hashes.pkl"] == DT_REG);
  CHECK(got["link"] == DT_LNK);

  std::vector<std::string> names;
  REQUIRE(fs::ListDir(tmp.path(), &names) == 0);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"a1f", "hashes.pkl", "link"});

  CHECK(fs::ListDirEntries(tmp / "nope", &entries) == ENOENT);
  CHECK(entries.empty());
  CHECK(fs::ListDirEntries(tmp / "hashes.pkl", &entries) == ENOTDIR);
}
