// Swift-style INI parsing (formats/config.h) and swift.conf (formats/swift_conf.h).
// Expected values follow Python 3.11's ConfigParser and Swift 2.30; the differential
// test tests/integration/test_config_compat.py checks the same against Swift itself.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "formats/config.h"
#include "formats/swift_conf.h"

using namespace replicant;
namespace fs = std::filesystem;

namespace {

ConfigFile MustParse(std::string_view text, ConfigOptions opts = {}) {
  auto f = ConfigFile::Parse(text, "test.conf", opts);
  INFO(f.status().ToString());
  REQUIRE(f.ok());
  return *f;
}

ConfigSection MustSection(std::string_view text, std::string_view name,
                          ConfigOptions opts = {}) {
  auto s = MustParse(text, opts).Section(name);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return *s;
}

Status ParseError(std::string_view text, ConfigOptions opts = {}) {
  auto f = ConfigFile::Parse(text, "test.conf", opts);
  REQUIRE_FALSE(f.ok());
  return f.status();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "config_test.XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  void Write(const std::string& name, std::string_view bytes) const {
    std::ofstream(path / name, std::ios::binary) << bytes;
  }
};

}  // namespace

TEST_CASE("sections, DEFAULT inheritance and overrides", "[config]") {
  auto s = MustSection(
      "[DEFAULT]\ndevices = /srv/node\nmount_check = true\n"
      "[object-replicator]\nmount_check = false\nconcurrency = 4\n",
      "object-replicator");
  CHECK(s.Get("devices") == "/srv/node");
  CHECK(s.Get("mount_check") == "false");
  CHECK(s.Get("concurrency") == "4");
  CHECK_FALSE(s.Get("nope").has_value());
  // DEFAULT's keys first, overridden in place; log_name added as readconf does.
  ConfigSection::Items want = {{"devices", "/srv/node"}, {"mount_check", "false"},
                               {"concurrency", "4"}, {"log_name", "object-replicator"}};
  CHECK(s.items() == want);
  CHECK(s.name() == "object-replicator");
  CHECK(s.source() == "test.conf");
}

TEST_CASE("keys, delimiters, whitespace and comments", "[config]") {
  auto s = MustSection(
      "# leading comment\n; another\n[s]\n"
      "Bind_Port: 6200\n"
      "a = b = c\n"
      "b: x=y\n"
      "c=d:e\n"
      "spaced   key \t=\t value with  spaces \t\n"
      "inline = 1 # not a comment ; nor this\n"
      "  # indented comment\n"
      "empty =\n"
      "nbsp = \xc2\xa0v\xc2\xa0\n",
      "s");
  CHECK(s.Get("bind_port") == "6200");
  CHECK(s.Get("BIND_PORT") == "6200");  // lookups are case-insensitive too
  CHECK(s.Get("a") == "b = c");
  CHECK(s.Get("b") == "x=y");
  CHECK(s.Get("c") == "d:e");
  CHECK(s.Get("spaced   key") == "value with  spaces");
  CHECK(s.Get("inline") == "1 # not a comment ; nor this");
  CHECK(s.Get("empty") == "");
  CHECK(s.Get("nbsp") == "v");  // U+00A0 is whitespace to Python's strip()
}

TEST_CASE("section headers", "[config]") {
  auto f = MustParse("[a] trailing junk\nx = 1\n[b]c]\ny = 2\n[ spaced ]\nz = 3\n[default]\n");
  CHECK(f.SectionNames() == std::vector<std::string>{"a", "b]c", " spaced ", "default"});
  CHECK(f.HasSection("a"));
  CHECK_FALSE(f.HasSection("A"));  // section names are case-sensitive
  CHECK_FALSE(f.HasSection("DEFAULT"));
  auto err = ParseError("[s]\n[]\n");  // "[]" is neither a header nor an option
  CHECK(Contains(err.message(), "line 2"));
}

TEST_CASE("continuation lines", "[config]") {
  auto s = MustSection(
      "[s]\n"
      "a = first\n"
      "  second\n"
      "\n"
      "  # comments inside are dropped\n"
      "\tthird\n"
      "\n\n"
      "b = x\n"
      "    [not-a-section]\n"
      "c = 1\n"
      "  \n",
      "s");
  CHECK(s.Get("a") == "first\nsecond\n\nthird");
  CHECK(s.Get("b") == "x\n[not-a-section]");
  CHECK(s.Get("c") == "1");
  // An indented option after a header starts a value; deeper lines continue it.
  auto t = MustSection("[s]\n  a = 1\n  b = 2\n    more\n", "s");
  CHECK(t.Get("a") == "1");
  CHECK(t.Get("b") == "2\nmore");
}

TEST_CASE("line endings", "[config]") {
  for (const char* nl : {"\n", "\r\n", "\r"}) {
    std::string text = std::string("[s]") + nl + "a = 1" + nl + "  2" + nl + "b = 3";
    auto s = MustSection(text, "s");
    CHECK(s.Get("a") == "1\n2");
    CHECK(s.Get("b") == "3");
  }
}

TEST_CASE("malformed files name file and line", "[config]") {
  auto e = ParseError("\n# ok\nkey = value\n[s]\n");
  CHECK(e.code() == Status::Code::kInvalidArgument);
  CHECK(Contains(e.message(), "test.conf: line 3"));
  CHECK(Contains(ParseError("[s]\na = 1\nno delimiter\n").message(), "line 3"));
  CHECK(Contains(ParseError("[s]\n= value\n").message(), "line 2"));
  CHECK(Contains(ParseError("[s]\na = 1\n[t]\n[s]\n").message(), "line 4"));
  CHECK(Contains(ParseError("[s]\na = 1\nA: 2\n").message(), "line 3"));
  // DEFAULT may be reopened, but its options are still checked.
  MustParse("[DEFAULT]\na = 1\n[s]\n[DEFAULT]\nb = 2\n");
  CHECK(Contains(ParseError("[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n").message(), "line 4"));
  CHECK(Contains(ParseError("[s]\nv = \xff\n").message(), "UTF-8"));
}

TEST_CASE("non-strict parsing merges sections and overwrites options", "[config]") {
  ConfigOptions opts;
  opts.strict = false;
  auto s = MustSection("[s]\na = 1\nb = 2\n[t]\n[s]\na = 3\n", "s", opts);
  CHECK(s.Get("a") == "3");
  CHECK(s.Get("b") == "2");
}

TEST_CASE("readconf interpolation", "[config]") {
  auto s = MustSection(
      "[DEFAULT]\nroot = /srv\n"
      "[s]\n"
      "devices = %(ROOT)s/node\n"
      "reserve = 1%\n"
      "literal = 100%%\n"
      "both = %(root)s 100%%\n"
      "nested = %(devices)s/sdb\n",
      "s");
  CHECK(s.Get("devices") == "/srv/node");
  CHECK(s.Get("reserve") == "1%");       // no "%(": left alone
  CHECK(s.Get("literal") == "100%%");    // likewise
  CHECK(s.Get("both") == "/srv 100%");
  CHECK(s.Get("nested") == "/srv/node/sdb");

  auto f = MustParse("[s]\na = %(missing)s\nb = %(a\nc = %(d)s\nd = 5%\nok = 1\n");
  auto err = f.Section("s");
  REQUIRE_FALSE(err.ok());  // every value is interpolated, as readconf's items() does
  CHECK(Contains(err.status().message(), "'s'"));
  CHECK(Contains(err.status().message(), "'a'"));
  CHECK(Contains(err.status().message(), "missing"));
  CHECK(f.Get("s", "ok")->value() == "1");  // Get() interpolates one value only
  CHECK_FALSE(f.Get("s", "b").ok());
  CHECK(f.Get("s", "d")->value() == "5%");
  CHECK_FALSE(f.Get("s", "c").ok());  // a referenced value gets full BasicInterpolation

  auto loop = MustParse("[s]\na = %(b)s\nb = %(a)s\n").Section("s");
  REQUIRE_FALSE(loop.ok());
  CHECK(Contains(loop.status().message(), "10 levels"));
}

TEST_CASE("basic and no interpolation", "[config]") {
  ConfigOptions basic;
  basic.interpolation = ConfigOptions::Interpolation::kBasic;
  auto f = MustParse("[s]\na = 100%%\nb = 1%\nc = %(a)s!\n", basic);
  CHECK(f.Get("s", "a")->value() == "100%");
  CHECK_FALSE(f.Get("s", "b").ok());
  CHECK(f.Get("s", "c")->value() == "100%!");
  CHECK_FALSE(f.Section("s").ok());

  ConfigOptions raw;
  raw.interpolation = ConfigOptions::Interpolation::kNone;
  CHECK(MustSection("[s]\na = %(x)s %\n", "s", raw).Get("a") == "%(x)s %");
}

TEST_CASE("Section, Items and Get lookups", "[config]") {
  auto f = MustParse("[DEFAULT]\nd = 1\nlog_name = custom\n[s]\nx = 2\n[t]\n");
  auto missing = f.Section("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().IsNotFound());
  CHECK(Contains(missing.status().message(), "nope"));
  CHECK(Contains(missing.status().message(), "test.conf"));
  CHECK(f.Section("DEFAULT").status().IsNotFound());  // as readconf

  CHECK(f.Section("s")->Get("log_name") == "custom");  // the file's own wins
  auto g = MustParse("[s]\n");
  CHECK(g.Section("s")->Get("log_name") == "s");
  CHECK(g.Section("s", std::string("named"))->Get("log_name") == "named");
  CHECK_FALSE(g.Items("s")->Has("log_name"));

  auto defaults = f.Items("DEFAULT");
  REQUIRE(defaults.ok());
  CHECK(defaults->items().size() == 2);

  CHECK(f.Get("s", "X")->value() == "2");
  CHECK(f.Get("s", "d")->value() == "1");
  CHECK(f.Get("DEFAULT", "d")->value() == "1");
  CHECK_FALSE(f.Get("nope", "d")->has_value());  // DEFAULT is not consulted then
  CHECK_FALSE(f.Get("s", "nope")->has_value());
}

TEST_CASE("paste.deploy set overrides only when asked", "[config]") {
  const char* text = "[DEFAULT]\nlog_level = INFO\n[app]\nset log_level = DEBUG\nSET  x = 1\n";
  auto plain = MustSection(text, "app");
  CHECK(plain.Get("log_level") == "INFO");
  CHECK(plain.Get("set log_level") == "DEBUG");
  ConfigOptions paste;
  paste.paste_set = true;
  auto s = MustSection(text, "app", paste);
  CHECK(s.Get("log_level") == "DEBUG");
  CHECK(s.Get("x") == "1");
  CHECK_FALSE(s.Has("set log_level"));
}

TEST_CASE("latin-1 keeps every byte", "[config]") {
  ConfigOptions latin1;
  latin1.encoding = ConfigOptions::Encoding::kLatin1;
  auto f = MustParse("[s]\nK\xc9Y = caf\xe9 \xff\xa0\nutf8 = \xc3\xa9\xc2\xa0\n", latin1);
  CHECK(f.Get("s", "k\xe9y")->value() == "caf\xe9 \xff");  // \xc9 lowered, \xa0 stripped
  CHECK(f.Get("s", "utf8")->value() == "\xc3\xa9\xc2");    // NBSP's 2nd byte is a space
}

TEST_CASE("Load reads files and conf.d directories", "[config]") {
  TempDir dir;
  dir.Write("1.conf", "[DEFAULT]\na = 1\n[s]\nb = 1\n");
  dir.Write("2.conf", "[s]\nb = 2\n[DEFAULT]\na = 2\n");  // repeats across files are fine
  dir.Write(".hidden.conf", "garbage\n");
  dir.Write("notes.txt", "garbage\n");
  auto f = ConfigFile::Load(dir.path.string());
  INFO(f.status().ToString());
  REQUIRE(f.ok());
  auto s = f->Section("s");
  CHECK(s->Get("a") == "2");
  CHECK(s->Get("b") == "2");
  CHECK(s->source() == dir.path.string());

  auto single = ConfigFile::Load((dir.path / "1.conf").string());
  REQUIRE(single.ok());
  CHECK(single->Section("s")->Get("b") == "1");

  auto missing = ConfigFile::Load((dir.path / "nope.conf").string());
  CHECK(missing.status().IsNotFound());
  CHECK(Contains(missing.status().message(), "nope.conf"));

  dir.Write("3.conf", "[t]\nx = 1\nx = 2\n");
  auto dup = ConfigFile::Load(dir.path.string());
  REQUIRE_FALSE(dup.ok());
  CHECK(Contains(dup.status().message(), "3.conf: line 3"));

  TempDir empty;
  CHECK_FALSE(ConfigFile::Load(empty.path.string()).ok());
}

TEST_CASE("typed getters follow Python", "[config]") {
  auto s = MustSection(
      "[s]\nint = 1_000\nsigned =  -42\nunicode = \xd9\xa3\nbadint = 12abc\nhuge = "
      "99999999999999999999\nfloat = 2.5e1\ndot = .5\ninf = -Infinity\nbadfloat = 0x10\n"
      "yes = Yes\nt = T\nno = false\nmaybe = maybe\nlist = a, b,,c ,\n",
      "s");
  CHECK(s.GetInt("int", 0).value() == 1000);
  CHECK(s.GetInt("signed", 0).value() == -42);
  CHECK(s.GetInt("unicode", 0).value() == 3);  // Python's int() takes any decimal digit
  CHECK(s.GetInt("absent", 7).value() == 7);
  auto bad = s.GetInt("badint", 0);
  REQUIRE_FALSE(bad.ok());
  for (const char* part : {"test.conf", "[s]", "badint", "12abc"})
    CHECK(Contains(bad.status().message(), part));
  CHECK_FALSE(s.GetInt("huge", 0).ok());
  CHECK(s.GetDouble("float", 0).value() == 25.0);
  CHECK(s.GetDouble("dot", 0).value() == 0.5);
  CHECK(s.GetDouble("int", 0).value() == 1000.0);
  CHECK(std::isinf(s.GetDouble("inf", 0).value()));
  CHECK(s.GetDouble("absent", 1.5).value() == 1.5);
  CHECK_FALSE(s.GetDouble("badfloat", 0).ok());
  CHECK(s.GetBool("yes", false).value());
  CHECK(s.GetBool("t", false).value());
  CHECK_FALSE(s.GetBool("no", true).value());
  CHECK_FALSE(s.GetBool("maybe", true).value());  // as config_true_value: not true
  CHECK(s.GetBool("absent", true).value());
  CHECK(s.GetString("absent", "dflt") == "dflt");
  CHECK(s.GetList("list") == std::vector<std::string>{"a", "b", "c"});
  CHECK(s.GetList("absent").empty());
}

TEST_CASE("Python number parsing", "[config]") {
  CHECK(ParsePythonInt(" +7 ").value() == 7);
  CHECK(ParsePythonInt("0_1").value() == 1);
  CHECK(ParsePythonInt("-9223372036854775808").value() == INT64_MIN);
  for (const char* bad : {"", "+", "1_", "_1", "1__0", "1.0", "0x1", "\x1c" "1", "9223372036854775808"})
    CHECK_FALSE(ParsePythonInt(bad).ok());
  CHECK(ParsePythonFloat("1.").value() == 1.0);
  CHECK(ParsePythonFloat("1_0.2_5").value() == 10.25);
  CHECK(ParsePythonFloat("1e400").value() == HUGE_VAL);
  CHECK(std::isnan(ParsePythonFloat(" nan ").value()));
  for (const char* bad : {"", ".", "e5", "1e", "1._5", "nan(1)", "infinit", "1,5"})
    CHECK_FALSE(ParsePythonFloat(bad).ok());
}

TEST_CASE("config_true_value and list_from_csv", "[config]") {
  for (const char* v : {"true", "TRUE", "1", "yes", "On", "t", "Y"}) CHECK(ConfigTrueValue(v));
  for (const char* v : {"", "false", "0", "no", "off", " true", "2", "enabled"})
    CHECK_FALSE(ConfigTrueValue(v));
  CHECK(ListFromCsv("a, b,,c") == std::vector<std::string>{"a", "b", "c"});
  CHECK(ListFromCsv("").empty());
  CHECK(ListFromCsv(" , ,").empty());
  CHECK(ListFromCsv("\xc2\xa0x\xe2\x80\x83") == std::vector<std::string>{"x"});
}

// ---- swift.conf ----

namespace {
SwiftConf MustSwift(std::string_view text) {
  auto c = ParseSwiftConf(text, "/etc/swift/swift.conf");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return *c;
}
std::string SwiftError(std::string_view text) {
  auto c = ParseSwiftConf(text, "/etc/swift/swift.conf");
  REQUIRE_FALSE(c.ok());
  return c.status().message();
}
constexpr const char* kHash = "[swift-hash]\nswift_hash_path_suffix = s\n";
}  // namespace

TEST_CASE("swift.conf hash prefix and suffix", "[config]") {
  auto c = MustSwift(
      "[swift-hash]\nSWIFT_HASH_PATH_PREFIX: p # kept ; too\n"
      "swift_hash_path_suffix = caf\xc3\xa9%%\n  line2\n");
  CHECK(c.hash_path_prefix == "p # kept ; too");
  CHECK(c.hash_path_suffix == "caf\xc3\xa9%\nline2");  // raw UTF-8 bytes

  // Read as latin-1: NBSP's second byte is whitespace there, its first is not.
  CHECK(MustSwift("[swift-hash]\nswift_hash_path_suffix = x\xc2\xa0\n").hash_path_suffix ==
        "x\xc2");
  CHECK(MustSwift("[DEFAULT]\nswift_hash_path_prefix = d\n[swift-hash]\n").hash_path_prefix ==
        "d");
  CHECK(MustSwift("[DEFAULT]\nbase = b\n[swift-hash]\nswift_hash_path_prefix = %(base)s-x\n")
            .hash_path_prefix == "b-x");
  auto only_prefix = MustSwift("[swift-hash]\nswift_hash_path_prefix = p\n"
                               "swift_hash_path_suffix =\n");
  CHECK(only_prefix.hash_path_suffix.empty());

  for (const char* text :
       {"", "[swift-hash]\n", "[swift-hash]\nswift_hash_path_suffix =\n",
        "[DEFAULT]\nswift_hash_path_suffix = d\n", "[other]\nswift_hash_path_suffix = x\n"}) {
    auto msg = SwiftError(text);
    CHECK(Contains(msg, "/etc/swift/swift.conf"));
    CHECK(Contains(msg, "swift-hash"));
  }
  CHECK(Contains(SwiftError("[swift-hash]\nswift_hash_path_suffix = 5%\n"), "'%'"));
  CHECK(Contains(SwiftError("[swift-hash]\nswift_hash_path_suffix = a\nswift_hash_path_suffix = b\n"),
                 "line 3"));
  CHECK(Contains(SwiftError("[swift-hash]\nswift_hash_path_suffix = \xe9\n"), "UTF-8"));
}

TEST_CASE("swift.conf storage policies", "[config]") {
  SECTION("implicit Policy-0") {
    auto c = MustSwift(kHash);
    REQUIRE(c.policies.size() == 1);
    CHECK(c.policies[0].name == "Policy-0");
    CHECK(c.policies[0].is_default);
    CHECK(c.DefaultPolicy() == &c.policies[0]);
    CHECK(c.policies[0].data_dir() == "objects");
    CHECK(c.policies[0].ring_name() == "object");
  }
  SECTION("a single policy becomes the default") {
    auto c = MustSwift(std::string(kHash) + "[storage-policy:0]\nname = gold\n");
    REQUIRE(c.policies.size() == 1);
    CHECK(c.policies[0].is_default);
  }
  SECTION("several policies, sorted, with aliases and types") {
    auto c = MustSwift(std::string(kHash) +
                       "[storage-policy:2]\nname = ec\npolicy_type = erasure_coding\n"
                       "ec_type = liberasurecode_rs_vand\nec_num_data_fragments = 4\n"
                       "ec_num_parity_fragments = 2\n"
                       "[storage-policy:0]\nname = gold\naliases = gold, yellow , ,orange\n"
                       "default = yes\n"
                       "[storage-policy:1]\nname = silver\ndeprecated = true\n");
    REQUIRE(c.policies.size() == 3);
    CHECK(c.policies[0].name == "gold");
    CHECK(c.policies[0].aliases == std::vector<std::string>{"yellow", "orange"});
    CHECK(c.policies[0].is_default);
    CHECK(c.policies[1].deprecated);
    CHECK(c.policies[1].data_dir() == "objects-1");
    CHECK(c.policies[2].type == "erasure_coding");
    CHECK(c.policies[2].ring_name() == "object-2");
    CHECK(c.FindPolicy(1)->name == "silver");
    CHECK(c.FindPolicy(5) == nullptr);
  }
  SECTION("DEFAULT options are policy options too") {
    auto c = MustSwift(std::string(kHash) +
                       "[DEFAULT]\ndeprecated = no\n[storage-policy:0]\nname = a\n");
    CHECK_FALSE(c.policies[0].deprecated);
  }
  SECTION("policy sections may repeat (strict=False) only if the hash parse allows") {
    CHECK(Contains(SwiftError(std::string(kHash) +
                              "[storage-policy:0]\nname = a\n[storage-policy:0]\ndefault = y\n"),
                   "already exists"));
  }
  SECTION("errors name swift.conf and the section") {
    struct Case {
      const char* body;
      const char* want;
    };
    const Case cases[] = {
        {"[storage-policy:0]\nname = a\n[storage-policy:1]\nname = b\n",
         "Unable to find default policy"},
        {"[storage-policy:1]\nname = b\n", "policy index 0"},
        {"[storage-policy:0]\nname = a\ndefault = yes\n[storage-policy:1]\nname = A\n",
         "Duplicate name"},
        {"[storage-policy:0]\nname = a\ndefault = yes\n[storage-policy:1]\nname = b\n"
         "aliases = c, A\n",
         "Duplicate name"},
        {"[storage-policy:0]\nname = a\ndefault = yes\n[storage-policy:1]\nname = b\n"
         "[storage-policy:01]\nname = c\n",
         "Duplicate index"},
        {"[storage-policy:0]\nname = a\ndefault = yes\n[storage-policy:1]\nname = b\n"
         "default = true\n",
         "Duplicate default"},
        {"[storage-policy:0]\nname = a\ndefault = yes\ndeprecated = yes\n",
         "[storage-policy:0]: Deprecated policy can not be default"},
        {"[storage-policy:0]\nname = a\ndeprecated = yes\n", "not deprecated"},
        {"[storage-policy:x]\nname = a\n", "[storage-policy:x]: Invalid index"},
        {"[storage-policy:-1]\nname = a\n", "Invalid index"},
        {"[storage-policy:0]\n", "Invalid name ''"},
        {"[storage-policy:0]\nname = a b\n", "Invalid name 'a b'"},
        {"[storage-policy:0]\nname = a\ndefault = y\n[storage-policy:1]\nname = policy-0\n",
         "reserved for policy index 0"},
        {"[storage-policy:0]\nname = a\naliases = b, B\n", "already assigned"},
        {"[storage-policy:0]\nname = a\ncolor = red\n", "Invalid option 'color'"},
        {"[DEFAULT]\nx = 1\n[storage-policy:0]\nname = a\n", "Invalid option 'x'"},
        {"[storage-policy:0]\nname = a\nec_type = x\n", "Invalid option 'ec_type'"},
        {"[storage-policy:0]\nname = a\npolicy_type = Replication\n", "policy_type"},
        {"[storage-policy:0]\nname = a\npolicy_type = erasure_coding\n", "Missing ec_type"},
        {"[storage-policy:0]\nname = a\npolicy_type = erasure_coding\nec_type = nope\n",
         "Wrong ec_type"},
        {"[storage-policy:0]\nname = a\npolicy_type = erasure_coding\n"
         "ec_type = liberasurecode_rs_vand\nec_num_data_fragments = 0\n",
         "ec_num_data_fragments"},
        {"[DEFAULT]\nd = 5%\n[storage-policy:0]\nname = a\n", "'%'"},
    };
    for (const auto& c : cases) {
      INFO(c.body);
      auto msg = SwiftError(std::string(kHash) + c.body);
      CHECK(Contains(msg, c.want));
      CHECK(Contains(msg, "/etc/swift/swift.conf"));
    }
  }
}

TEST_CASE("LoadSwiftConf reads swift_dir/swift.conf", "[config]") {
  TempDir dir;
  auto missing = LoadSwiftConf(dir.path.string());
  REQUIRE_FALSE(missing.ok());
  CHECK(Contains(missing.status().message(), "swift.conf"));
  dir.Write("swift.conf", "[swift-hash]\nswift_hash_path_prefix = p\n");
  auto c = LoadSwiftConf(dir.path.string() + "/");
  REQUIRE(c.ok());
  CHECK(c->hash_path_prefix == "p");
}
