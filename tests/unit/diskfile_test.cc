#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "diskfile/layout.h"
#include "diskfile/object_writer.h"
#include "diskfile/object_reader.h"
#include "diskfile/quarantine.h"
#include "diskfile/yield_hashes.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/timestamp.h"
#include "diskfile/object_metadata.h"

namespace fs = std::filesystem;
using namespace replicant;
using namespace replicant::diskfile;

namespace {

// A scratch dir removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/replicant-diskfile-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string Hex(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::string Md5Hex(std::string_view s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_md5(), nullptr);
  return Hex(std::string_view(reinterpret_cast<char*>(d), n));
}

std::string MakeFile(const std::string& dir) {
  std::string p = dir + "/f";
  std::ofstream(p) << "x";
  return p;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

const char kHash[] = "d41d8cd98f00b204e9800998ecf8427e";

std::unique_ptr<ObjectWriter> NewWriter(const TempDir& t, int policy = 0) {
  WriterOptions o;
  o.policy_index = policy;
  auto w = ObjectWriter::Create(t.path + "/sda", HashDirFor(t.path, "sda", policy, 7, kHash), o);
  REQUIRE(w.ok());
  return std::move(*w);
}

// Metadata of a .data at 2.00000 whose body is "abc".
Metadata AbcMetadata() {
  return {{"X-Timestamp", "2.00000"}, {"Content-Length", "3"}, {"ETag", Md5Hex("abc")},
          {"name", "/a/c/o"}};
}

}  // namespace

TEST_CASE("Metadata keeps insertion order with dict semantics", "[diskfile]") {
  Metadata md{{"b", "1"}, {"a", "2"}};
  md.Set("b", "3");
  md.Set("c", "4");
  REQUIRE(md.size() == 3);
  CHECK(md.entries()[0] == Metadata::Entry{"b", "3"});
  CHECK(md.entries()[2].first == "c");
  CHECK(md.Erase("a"));
  CHECK_FALSE(md.Erase("a"));
  CHECK(md.Get("a") == nullptr);
  CHECK(md.GetOr("a", "x") == "x");
  CHECK(md == Metadata{{"c", "4"}, {"b", "3"}});
  CHECK_FALSE(md == Metadata{{"c", "4"}, {"b", "5"}});
}

TEST_CASE("EncodeMetadata matches Swift's py3 pickle byte for byte", "[diskfile]") {
  // Expected bytes from Swift 2.30: pickle.dumps(_encode_metadata(m), 2).
  Metadata m{{"X-Timestamp", "1.00000"},
             {"Content-Length", "1"},
             {"ETag", "1"},
             {"X-Object-Meta-A", "\xc3\xa9\xc3\xa9\xc3\xa9"},
             {"k", ""}};
  CHECK(Hex(EncodeMetadata(m)) ==
        "80027d710028635f636f646563730a656e636f64650a7101580b000000582d54696d657374616d7071"
        "0258060000006c6174696e31710386710452710568015807000000312e3030303030710668038671"
        "075271086801580e000000436f6e74656e742d4c656e6774687109680386710a52710b6801580100"
        "000031710c680386710d52710e6801580400000045546167710f6803867110527111680e6801580f"
        "000000582d4f626a6563742d4d6574612d41711268038671135271146801580c000000c383c2a9c3"
        "83c2a9c383c2a971156803867116527117680158010000006b7118680386711952711a635f5f6275"
        "696c74696e5f5f0a62797465730a711b2952711c752e");
  // Single bytes and b'' are CPython singletons: repeated ones are memo references.
  Metadata singles{{"a", "a"}, {"b", "\xff"}, {"c", "\xff"}, {"", ""}};
  CHECK(Hex(EncodeMetadata(singles)) ==
        "80027d710028635f636f646563730a656e636f64650a7101580100000061710258060000006c6174"
        "696e317103867104527105680568015801000000627106680386710752710868015802000000c3bf"
        "7109680386710a52710b6801580100000063710c680386710d52710e680b635f5f6275696c74696e"
        "5f5f0a62797465730a710f295271106810752e");
  CHECK(Hex(EncodeMetadata(Metadata{})) == "80027d71002e");
  CHECK(Hex(EncodeMetadata(Metadata{{"a", "b"}})) ==
        "80027d7100635f636f646563730a656e636f64650a7101580100000061710258060000006c617469"
        "6e317103867104527105680158010000006271066803867107527108732e");

  // Long memo indexes (LONG_BINPUT/LONG_BINGET) and the 1000-item SETITEMS batches.
  Metadata many;
  for (int i = 0; i < 120; ++i) {
    many.Set("X-Object-Meta-K" + std::to_string(i), std::string(i % 5, 'v'));
  }
  CHECK(Md5Hex(EncodeMetadata(many)) == "54f76012aa03d957ed96f2dc89bf6d83");
  Metadata thousand;
  for (int i = 0; i < 1000; ++i) thousand.Set("k" + std::to_string(i), std::to_string(i));
  CHECK(Md5Hex(EncodeMetadata(thousand)) == "8f522daf01ceff9bd94a9fd95a665891");
  thousand.Set("k1000", "1000");
  CHECK(Md5Hex(EncodeMetadata(thousand)) == "07edf1ab82074056ed324143d30af4cf");
}

TEST_CASE("DecodeMetadata reads any writer's pickle", "[diskfile]") {
  Metadata m{{"X-Timestamp", "1.00000"}, {"X-Object-Meta-\xc3\xa9", "\xe2\x82\xac"}, {"e", ""}};
  auto back = DecodeMetadata(EncodeMetadata(m));
  REQUIRE(back.ok());
  CHECK(*back == m);
  CHECK(back->entries()[1].first == "X-Object-Meta-\xc3\xa9");

  // Python 2 Swift: SHORT_BINSTRING (str) keys and values.
  auto py2 = DecodeMetadata(Unhex("80027d7100285501615502c3a9550e436f6e74656e742d4c656e67746855023132752e"));
  REQUIRE(py2.ok());
  CHECK(*py2 == Metadata{{"a", "\xc3\xa9"}, {"Content-Length", "12"}});
  // Protocol 0 with unicode, and protocol 4 with an int value.
  auto p0 = DecodeMetadata(Unhex("286470300a56582d4f626a6563742d4d6574612de90a70310a565c75323061630a70320a732e"));
  REQUIRE(p0.ok());
  CHECK(*p0 == Metadata{{"X-Object-Meta-\xc3\xa9", "\xe2\x82\xac"}});
  auto p4 = DecodeMetadata(Unhex("80049531000000000000007d94288c10582d4f626a6563742d4d6574612dc3a9948c03e282ac948c0e436f6e74656e742d4c656e677468944b05752e"));
  REQUIRE(p4.ok());
  CHECK(*p4 == Metadata{{"X-Object-Meta-\xc3\xa9", "\xe2\x82\xac"}, {"Content-Length", "5"}});

  CHECK(DecodeMetadata("garbage").status().IsCorruption());
  CHECK(DecodeMetadata(Unhex("80025d71002e")).status().IsCorruption());  // a list
}

TEST_CASE("Metadata xattrs round trip in pieces, with checksum", "[diskfile]") {
  TempDir t;
  std::string f = MakeFile(t.path);
  int fd = open(f.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  Metadata m{{"X-Timestamp", "1700000000.12345"},
             {"X-Object-Meta-Long", std::string(700, 'x') + "\xc3\xa9\xe2\x82\xac"},
             {"Content-Type", "text/plain"}};
  // 254-byte pieces, as Swift before 2.x wrote them: several xattrs.
  REQUIRE(WriteMetadata(fd, m, 254).ok());
  std::string pickled = EncodeMetadata(m);
  size_t pieces = (pickled.size() + 253) / 254;
  REQUIRE(pieces >= 3);
  CHECK(fgetxattr(fd, ("user.swift.metadata" + std::to_string(pieces - 1)).c_str(), nullptr, 0) > 0);
  CHECK(fgetxattr(fd, ("user.swift.metadata" + std::to_string(pieces)).c_str(), nullptr, 0) < 0);
  auto raw = ReadRawMetadata(fd);
  REQUIRE(raw.ok());
  CHECK(*raw == pickled);
  auto back = ReadMetadataFile(f);
  REQUIRE(back.ok());
  CHECK(*back == m);

  char sum[64] = {};
  ssize_t n = fgetxattr(fd, kMetadataChecksumXattr, sum, sizeof sum);
  CHECK(std::string(sum, n) == Md5Hex(pickled));

  SECTION("a shorter rewrite drops the stale next piece") {
    Metadata small{{"X-Timestamp", "1.00000"}};
    REQUIRE(WriteMetadata(fd, small, 254).ok());
    auto again = ReadMetadata(fd);
    REQUIRE(again.ok());
    CHECK(*again == small);
  }
  SECTION("checksum mismatch is corruption") {
    REQUIRE(fsetxattr(fd, kMetadataChecksumXattr, "0123", 4, 0) == 0);
    CHECK(ReadMetadata(fd).status().IsCorruption());
  }
  SECTION("a missing or empty checksum is accepted (older objects)") {
    REQUIRE(fremovexattr(fd, kMetadataChecksumXattr) == 0);
    CHECK(ReadMetadata(fd).ok());
    REQUIRE(fsetxattr(fd, kMetadataChecksumXattr, "", 0, 0) == 0);
    CHECK(ReadMetadata(fd).ok());
  }
  SECTION("a corrupted piece is caught by the checksum") {
    REQUIRE(fsetxattr(fd, "user.swift.metadata1", "zz", 2, 0) == 0);
    CHECK(ReadMetadata(fd).status().IsCorruption());
  }
  close(fd);
}

TEST_CASE("Missing metadata and missing files", "[diskfile]") {
  TempDir t;
  std::string f = MakeFile(t.path);
  auto r = ReadMetadataFile(f);
  CHECK(r.status().IsCorruption());
  CHECK(ReadMetadataFile(t.path + "/nope").status().IsNotFound());
}

TEST_CASE("Object paths and file names follow Swift", "[diskfile]") {
  CHECK(DataDirName(0) == "objects");
  CHECK(DataDirName(2) == "objects-2");
  CHECK(TmpDirName(0) == "tmp");
  CHECK(TmpDirName(1) == "tmp-1");
  CHECK(SuffixOf(kHash) == "27e");
  CHECK(HashDirFor("/srv/node", "sdb1", 1, 1234, kHash) ==
        std::string("/srv/node/sdb1/objects-1/1234/27e/") + kHash);
  CHECK(PartitionDirFor("/d", "s", 0, 0) == "/d/s/objects/0");
  auto ts = Timestamp::Parse("1700000000.00002");
  auto later = Timestamp::Parse("1700000000.00012");
  auto with_offset = Timestamp::Parse("1700000000.00002_000000000000000a");
  REQUIRE((ts.ok() && later.ok() && with_offset.ok()));
  CHECK(OnDiskFilename(*ts, "data") == "1700000000.00002.data");
  CHECK(OnDiskFilename(*with_offset, "ts") == "1700000000.00002_000000000000000a.ts");
  CHECK(OnDiskFilename(*later, "meta", *ts) == "1700000000.00012-a.meta");
  CHECK(OnDiskFilename(*ts, "meta", *later) == "1700000000.00002+a.meta");
  CHECK(OnDiskFilename(*ts, "meta", *ts) == "1700000000.00002+0.meta");
  CHECK(OnDiskFilename(*ts, "meta") == "1700000000.00002.meta");
}

TEST_CASE("Writer publishes a complete .data and the reader opens it", "[diskfile]") {
  TempDir t;
  std::string hash_dir = HashDirFor(t.path, "sda", 1, 7, kHash);
  auto w = NewWriter(t, 1);
  std::string body(100000, 'b');
  REQUIRE(w->Write(body.substr(0, 1000)).ok());
  REQUIRE(w->Write(body.substr(1000)).ok());
  CHECK(fs::path(w->temp_path()).parent_path() == t.path + "/sda/tmp-1");
  CHECK_FALSE(fs::exists(hash_dir));  // nothing visible before put
  Metadata md{{"X-Timestamp", "1700000000.00000"},
              {"Content-Type", "application/x-test"},
              {"ETag", Md5Hex(body)},
              {"X-Object-Meta-Color", "bl\xc3\xa9u"},
              {"name", "/a/c/o"}};
  auto path = w->Put(ObjectFileType::kData, md);
  REQUIRE(path.ok());
  CHECK(*path == hash_dir + "/1700000000.00000.data");
  CHECK(Names(t.path + "/sda/tmp-1").empty());
  CHECK(ReadAll(*path) == body);
  CHECK(ReadAll(t.path + "/sda/objects-1/7/hashes.invalid") == "27e\n");

  auto obj = OpenObject(hash_dir);
  REQUIRE(obj.ok());
  CHECK_FALSE(obj->tombstone);
  CHECK(obj->data_file == *path);
  CHECK(obj->content_length == body.size());
  CHECK(obj->data_fd.get() >= 0);
  CHECK(obj->timestamp.internal() == "1700000000.00000");
  CHECK(*obj->metadata.Get("Content-Length") == "100000");
  CHECK(*obj->metadata.Get("ETag") == Md5Hex(body));
  CHECK(*obj->metadata.Get("X-Object-Meta-Color") == "bl\xc3\xa9u");
  CHECK_FALSE(obj->metafile_metadata.has_value());
  // Put keeps the caller's key order: the pickle is Swift's for the same dict.
  auto raw = ReadRawMetadataFile(*path);
  REQUIRE(raw.ok());
  md.Set("Content-Length", "100000");
  CHECK(*raw == EncodeMetadata(md));
}

TEST_CASE("Writer rejects bodies that do not match their metadata", "[diskfile]") {
  TempDir t;
  std::string tmp;
  {
    auto w = NewWriter(t);
    tmp = w->temp_path();
    REQUIRE(w->Write("hello").ok());
    auto bad = w->Put(ObjectFileType::kData, {{"X-Timestamp", "1.00000"}, {"ETag", Md5Hex("hellx")}});
    CHECK(bad.status().IsCorruption());
    auto bad_len = w->Put(ObjectFileType::kData, {{"X-Timestamp", "1.00000"}, {"Content-Length", "4"}});
    CHECK(bad_len.status().IsCorruption());
    CHECK(w->Put(ObjectFileType::kData, {{"Content-Length", "5"}}).status().code() ==
          Status::Code::kInvalidArgument);  // no X-Timestamp
    CHECK(w->Put(ObjectFileType::kTombstone, {{"X-Timestamp", "1.00000"}}).status().code() ==
          Status::Code::kInvalidArgument);  // a tombstone has no body
    CHECK(fs::exists(tmp));
  }
  CHECK_FALSE(fs::exists(tmp));  // an abandoned writer cleans its temp file
  CHECK_FALSE(fs::exists(t.path + "/sda/objects"));
  // Upper-case ETags are accepted and stored as Swift stores them (computed, lower).
  auto w = NewWriter(t);
  REQUIRE(w->Write("hello").ok());
  std::string upper = Md5Hex("hello");
  for (char& c : upper) c = static_cast<char>(toupper(c));
  auto ok = w->Put(ObjectFileType::kData, {{"X-Timestamp", "1.00000"}, {"ETag", upper}});
  REQUIRE(ok.ok());
  CHECK(*ReadMetadataFile(*ok)->Get("ETag") == Md5Hex("hello"));
}

TEST_CASE("A crash before put leaves nothing in the hash dir", "[diskfile]") {
  TempDir t;
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child dies mid-upload without any cleanup, as on a crash.
    auto w = ObjectWriter::Create(t.path + "/sda", HashDirFor(t.path, "sda", 0, 7, kHash));
    if (!w.ok()) _exit(2);
    (void)(*w)->Write(std::string(5000, 'z'));
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  CHECK(Names(t.path + "/sda/tmp").size() == 1);  // only an orphan temp file
  CHECK_FALSE(fs::exists(t.path + "/sda/objects"));
  CHECK(OpenObject(HashDirFor(t.path, "sda", 0, 7, kHash)).status().IsNotFound());
}

TEST_CASE("Tombstones and fast-POST metadata", "[diskfile]") {
  TempDir t;
  std::string hash_dir = HashDirFor(t.path, "sda", 0, 7, kHash);
  auto put_data = [&](const std::string& ts, const std::string& body, Metadata extra = {}) {
    auto w = NewWriter(t);
    REQUIRE(w->Write(body).ok());
    Metadata md{{"X-Timestamp", ts}, {"Content-Type", "text/plain"}, {"name", "/a/c/o"}};
    md.Update(extra);
    REQUIRE(w->Put(ObjectFileType::kData, md).ok());
  };
  auto put = [&](ObjectFileType type, Metadata md) {
    auto w = NewWriter(t);
    auto p = w->Put(type, std::move(md));
    REQUIRE(p.ok());
    return *p;
  };

  put_data("1900000000.00000", "v1",
           {{"X-Object-Meta-Old", "1"}, {"X-Object-Sysmeta-Keep", "s"}, {"X-Static-Large-Object", "True"}});
  SECTION(".meta overrides user metadata; sysmeta and the data's Content-Type stay") {
    std::string p = put(ObjectFileType::kMeta, {{"X-Timestamp", "1900000001.00000"},
                                                 {"X-Object-Meta-New", "\xc3\xa9"},
                                                 {"name", "/a/c/o"}});
    CHECK(fs::path(p).filename() == "1900000001.00000.meta");
    auto obj = OpenObject(hash_dir);
    REQUIRE(obj.ok());
    CHECK(obj->timestamp.internal() == "1900000001.00000");
    CHECK(obj->data_timestamp.internal() == "1900000000.00000");
    CHECK(obj->metadata.Get("X-Object-Meta-Old") == nullptr);
    CHECK(*obj->metadata.Get("X-Object-Meta-New") == "\xc3\xa9");
    CHECK(*obj->metadata.Get("X-Object-Sysmeta-Keep") == "s");
    CHECK(*obj->metadata.Get("X-Static-Large-Object") == "True");
    CHECK(*obj->metadata.Get("Content-Type") == "text/plain");
    CHECK(*obj->metadata.Get("Content-Length") == "2");
    REQUIRE(obj->metafile_metadata.has_value());
    CHECK_FALSE(obj->metafile_metadata->Has("name"));
    CHECK(obj->metadata.Has("name"));
  }
  SECTION("a newer content-type in an older .meta is merged") {
    std::string p1 = put(ObjectFileType::kMeta, {{"X-Timestamp", "1900000002.00000"},
                                                  {"Content-Type", "image/png"},
                                                  {"Content-Type-Timestamp", "1900000002.00000"},
                                                  {"name", "/a/c/o"}});
    CHECK(fs::path(p1).filename() == "1900000002.00000+0.meta");
    std::string p2 = put(ObjectFileType::kMeta, {{"X-Timestamp", "1900000003.00000"},
                                                  {"X-Object-Meta-Later", "x"},
                                                  {"name", "/a/c/o"}});
    CHECK(fs::exists(p1));  // kept: it holds the newest content-type
    auto obj = OpenObject(hash_dir);
    REQUIRE(obj.ok());
    REQUIRE(obj->files.ctype_info.has_value());
    CHECK(*obj->metadata.Get("Content-Type") == "image/png");
    CHECK(*obj->metadata.Get("Content-Type-Timestamp") == "1900000002.00000");
    CHECK(*obj->metadata.Get("X-Object-Meta-Later") == "x");
    CHECK(obj->timestamp.internal() == "1900000003.00000");

    auto listed = YieldHashes(t.path + "/sda/objects/7/27e", 604800, 1900000010.0);
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 1);
    const HashTimestamps& h = (*listed)[0];
    CHECK(h.hash == kHash);
    CHECK(h.ts_data.internal() == "1900000000.00000");
    CHECK(h.ts_meta->internal() == "1900000003.00000");
    CHECK(h.ts_ctype->internal() == "1900000002.00000");
    CHECK(h.durable);
    CHECK_FALSE(h.tombstone);
  }
  SECTION("a newer .data wins over an older .meta's content-type") {
    put(ObjectFileType::kMeta, {{"X-Timestamp", "1900000002.00000"},
                                {"Content-Type", "image/png"},
                                {"Content-Type-Timestamp", "1900000002.00000"}});
    put_data("1900000005.00000", "v2");
    auto obj = OpenObject(hash_dir);
    REQUIRE(obj.ok());
    CHECK(obj->files.meta_info == std::nullopt);  // cleaned up as obsolete
    CHECK(*obj->metadata.Get("Content-Type") == "text/plain");
    CHECK(obj->content_length == 2);
  }
  SECTION("a tombstone hides the data, which cleanup removes") {
    put(ObjectFileType::kTombstone, {{"X-Timestamp", "1900000004.00000"}, {"name", "/a/c/o"}});
    CHECK(Names(hash_dir) == std::vector<std::string>{"1900000004.00000.ts"});
    auto obj = OpenObject(hash_dir);
    REQUIRE(obj.ok());
    CHECK(obj->tombstone);
    CHECK(obj->data_file.empty());
    CHECK(obj->timestamp.internal() == "1900000004.00000");
    auto listed = YieldHashes(t.path + "/sda/objects/7/27e", 604800, 1900000010.0);
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 1);
    CHECK((*listed)[0].tombstone);
    CHECK_FALSE((*listed)[0].ts_meta.has_value());
    // Past reclaim age the tombstone goes, the suffix yields nothing and is invalidated.
    std::string inv = t.path + "/sda/objects/7/hashes.invalid";
    fs::resize_file(inv, 0);
    listed = YieldHashes(t.path + "/sda/objects/7/27e", 10, 1900000100.0);
    REQUIRE(listed.ok());
    CHECK(listed->empty());
    CHECK_FALSE(fs::exists(hash_dir));
    CHECK(ReadAll(inv) == "27e\n");
  }
}

TEST_CASE("Reader refuses what Swift would quarantine", "[diskfile]") {
  TempDir t;
  std::string hash_dir = HashDirFor(t.path, "sda", 0, 7, kHash);
  auto w = NewWriter(t);
  REQUIRE(w->Write("12345").ok());
  auto p = w->Put(ObjectFileType::kData, {{"X-Timestamp", "1.00000"}, {"name", "/a/c/o"}});
  REQUIRE(p.ok());
  SECTION("size differs from Content-Length") {
    REQUIRE(truncate(p->c_str(), 3) == 0);
    CHECK(OpenObject(hash_dir).status().IsCorruption());
  }
  SECTION("bad Content-Length or X-Delete-At") {
    int fd = open(p->c_str(), O_RDWR);
    REQUIRE(WriteMetadata(fd, {{"X-Timestamp", "1.00000"}, {"Content-Length", "five"}}).ok());
    CHECK(OpenObject(hash_dir).status().IsCorruption());
    REQUIRE(WriteMetadata(fd, {{"X-Timestamp", "1.00000"}, {"Content-Length", "5"}, {"X-Delete-At", "x"}}).ok());
    CHECK(OpenObject(hash_dir).status().IsCorruption());
    REQUIRE(WriteMetadata(fd, {{"X-Timestamp", "1.00000"}, {"Content-Length", " 5"}, {"X-Delete-At", "99"}}).ok());
    auto obj = OpenObject(hash_dir);
    REQUIRE(obj.ok());
    CHECK(obj->delete_at == 99);
    close(fd);
  }
  SECTION("missing metadata, then quarantine") {
    REQUIRE(removexattr(p->c_str(), "user.swift.metadata") == 0);
    CHECK(OpenObject(hash_dir).status().IsCorruption());
    auto q = QuarantineHashDir(t.path + "/sda", hash_dir, 0);
    REQUIRE(q.ok());
    CHECK(*q == t.path + "/sda/quarantined/objects/" + kHash);
    CHECK(fs::exists(*q + "/0000000001.00000.data"));
    CHECK(OpenObject(hash_dir).status().IsNotFound());
  }
  SECTION("a file where the hash dir should be") {
    fs::remove_all(hash_dir);
    std::ofstream(hash_dir) << "junk";
    CHECK(OpenObject(hash_dir).status().IsCorruption());
  }
}

TEST_CASE("PutRaw stores shipped files verbatim", "[diskfile]") {
  TempDir t;
  std::string hash_dir = HashDirFor(t.path, "sda", 0, 7, kHash);
  Metadata md = AbcMetadata();
  std::string pickled = EncodeMetadata(md);
  {
    auto w = NewWriter(t);
    REQUIRE(w->Write("abd").ok());
    CHECK(w->PutRaw("2.00000.data", pickled).status().IsCorruption());  // ETag check
  }
  auto w = NewWriter(t);
  CHECK(w->PutRaw("../x.data", pickled).status().code() == Status::Code::kInvalidArgument);
  CHECK(w->PutRaw("junk", pickled).status().code() == Status::Code::kInvalidArgument);
  REQUIRE(w->Write("abc").ok());
  auto p = w->PutRaw("2.00000.data", pickled);
  REQUIRE(p.ok());
  auto raw = ReadRawMetadataFile(*p);
  REQUIRE(raw.ok());
  CHECK(*raw == pickled);
  auto obj = OpenObject(hash_dir);
  REQUIRE(obj.ok());
  CHECK(obj->metadata == md);
}

TEST_CASE("A prepared file is published only once it is synced", "[diskfile]") {
  TempDir t;
  std::string hash_dir = HashDirFor(t.path, "sda", 0, 7, kHash);
  Metadata md = AbcMetadata();
  std::string pickled = EncodeMetadata(md);
  auto w = NewWriter(t);
  REQUIRE(w->Write("abc").ok());
  REQUIRE(w->PrepareRaw("2.00000.data", pickled, md).ok());
  // Neither fsynced nor covered by a filesystem sync: refused, nothing published.
  CHECK(w->Commit().status().code() == Status::Code::kInvalidArgument);
  CHECK_FALSE(fs::exists(hash_dir));
  w->DataSyncedByFilesystemSync();
  auto p = w->Commit();
  REQUIRE(p.ok());
  CHECK(*p == hash_dir + "/2.00000.data");
  auto obj = OpenObject(hash_dir);
  REQUIRE(obj.ok());
  CHECK(obj->metadata == md);
  CHECK(fs::is_empty(fs::path(t.path) / "sda" / "tmp"));
}

TEST_CASE("hash_while_syncing checks the ETag before anything is published", "[diskfile]") {
  TempDir t;
  std::string hash_dir = HashDirFor(t.path, "sda", 0, 7, kHash);
  // Over the 1 MiB read-back chunk and not a multiple of it, in uneven writes.
  std::string body(2 * (1 << 20) + 12345, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7919 % 251);
  Metadata md{{"X-Timestamp", "2.00000"}, {"Content-Length", std::to_string(body.size())},
              {"ETag", Md5Hex(body)}, {"name", "/a/c/o"}};
  std::string pickled = EncodeMetadata(md);
  auto writer = [&](std::string_view data) {
    WriterOptions o;
    o.hash_while_syncing = true;
    auto w = ObjectWriter::Create(t.path + "/sda", hash_dir, o);
    REQUIRE(w.ok());
    for (size_t at = 0; at < data.size(); at += 100000) {
      REQUIRE((*w)->Write(data.substr(at, 100000)).ok());
    }
    return std::move(*w);
  };
  std::string bad = body;
  bad[1 << 20] ^= 1;  // one bit, in the second read-back chunk
  SECTION("a matching body is published") {
    auto w = writer(body);
    auto p = w->PutRaw("2.00000.data", pickled, md);
    REQUIRE(p.ok());
    CHECK(ReadAll(*p) == body);
    CHECK(w->etag() == Md5Hex(body));
  }
  SECTION("a corrupt body fails the sync and is never renamed") {
    {
      auto w = writer(bad);
      // The length is checked at once; the ETag only once the file is read back.
      REQUIRE(w->PrepareRaw("2.00000.data", pickled, md).ok());
      CHECK(w->SyncData().IsCorruption());
      CHECK(w->Commit().status().code() == Status::Code::kInvalidArgument);
    }
    {
      auto w = writer(bad);
      REQUIRE(w->PrepareRaw("2.00000.data", pickled, md).ok());
      CHECK(w->DataSyncedByFilesystemSync().IsCorruption());
      CHECK(w->Commit().status().code() == Status::Code::kInvalidArgument);
    }
    CHECK_FALSE(fs::exists(hash_dir));
    CHECK(fs::is_empty(fs::path(t.path) / "sda" / "tmp"));
  }
  SECTION("a wrong length is refused before any sync") {
    auto w = writer(body.substr(1));
    CHECK(w->PrepareRaw("2.00000.data", pickled, md).IsCorruption());
  }
  SECTION("Put stores the computed ETag") {
    auto w = writer(body);
    Metadata no_etag = md;
    no_etag.Erase("ETag");
    auto p = w->Put(ObjectFileType::kData, no_etag);
    REQUIRE(p.ok());
    auto obj = OpenObject(hash_dir);
    REQUIRE(obj.ok());
    CHECK(obj->metadata.GetOr("ETag", "") == Md5Hex(body));
  }
}

TEST_CASE("ListSuffixes keeps 3-character hex names", "[diskfile]") {
  TempDir t;
  // int(s, 16) takes " f1" and "_1f"'s neighbour "1_f"; not "\x1cff" (Python strips
  // only ASCII whitespace it knows) nor "_1f".
  for (const char* d : {"abc", "0f1", "ABC", "xyz", "abcd", "tmp", " f1", "1_f", "\x1c" "ff", "_1f"}) {
    fs::create_directory(t.path + "/" + d);
  }
  std::ofstream(t.path + "/hashes.pkl") << "x";
  CHECK(ListSuffixes(t.path) == std::vector<std::string>{" f1", "0f1", "1_f", "ABC", "abc"});
  CHECK(ListSuffixes(t.path + "/missing").empty());
}

TEST_CASE("Unpublish takes back a committed file only while it is still the writer's",
          "[diskfile]") {
  TempDir t;
  std::string hash_dir = HashDirFor(t.path, "sda", 0, 7, kHash);
  std::string invalid = t.path + "/sda/objects/7/hashes.invalid";
  Metadata md = AbcMetadata();
  std::string pickled = EncodeMetadata(md);
  std::vector<std::string> deferred;
  WriterOptions o;
  o.deferred_dir_syncs = &deferred;
  o.caller_invalidates = true;
  auto commit = [&] {
    auto w = ObjectWriter::Create(t.path + "/sda", hash_dir, o);
    REQUIRE(w.ok());
    REQUIRE((*w)->Write("abc").ok());
    REQUIRE((*w)->PrepareRaw("2.00000.data", pickled, md).ok());
    REQUIRE((*w)->SyncData().ok());
    REQUIRE((*w)->Commit().ok());
    return std::move(*w);
  };
  CHECK(NewWriter(t)->Unpublish().code() == Status::Code::kInvalidArgument);  // no commit
  SECTION("its own file goes, and the suffix is marked for rehashing") {
    auto w = commit();
    CHECK_FALSE(fs::exists(invalid));  // the caller invalidates, before the rename
    REQUIRE(w->Unpublish().ok());
    CHECK(Names(hash_dir).empty());
    CHECK(ReadAll(invalid) == std::string(kHash).substr(29) + "\n");
    CHECK(w->Unpublish().ok());  // already gone
  }
  SECTION("a file another writer put there since is left alone") {
    auto first = commit();
    auto second = commit();  // same name, renamed over the first one
    REQUIRE(first->Unpublish().ok());
    CHECK(Names(hash_dir) == std::vector<std::string>{"2.00000.data"});
    REQUIRE(second->Unpublish().ok());
    CHECK(Names(hash_dir).empty());
  }
}

TEST_CASE("Put makes the missing dirs, and fails on a file where a dir belongs", "[diskfile]") {
  TempDir t;
  std::string hash_dir = HashDirFor(t.path, "sda", 0, 7, kHash);
  std::string suffix_dir = fs::path(hash_dir).parent_path();
  // Recent: an old tombstone would be reclaimed by the put's cleanup.
  const long now = static_cast<long>(time(nullptr));
  const std::string ts1 = std::to_string(now - 10) + ".00000";
  const std::string ts2 = std::to_string(now - 5) + ".00000";
  auto put = [&](const std::string& ts) {
    auto w = NewWriter(t);
    std::string tmp = w->temp_path();
    auto done = w->Put(ObjectFileType::kTombstone, {{"X-Timestamp", ts}});
    w.reset();
    CHECK_FALSE(fs::exists(tmp));  // published or removed, never left behind
    return done;
  };
  // A file where the hash dir belongs: mkdir meets EEXIST, the rename ENOTDIR.
  fs::create_directories(suffix_dir);
  { std::ofstream(hash_dir) << "not a dir"; }
  auto r = put(ts1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("Not a directory") != std::string::npos);
  CHECK(ReadAll(hash_dir) == "not a dir");
  // A file where the suffix dir belongs: the hash dir's mkdir meets ENOTDIR.
  fs::remove_all(t.path + "/sda/objects");
  fs::create_directories(fs::path(suffix_dir).parent_path());
  { std::ofstream(suffix_dir) << "not a dir"; }
  r = put(ts1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("mkdir " + hash_dir) != std::string::npos);
  CHECK(ReadAll(suffix_dir) == "not a dir");
  // Nothing there: partition, suffix and hash dir are made; then an existing hash dir.
  fs::remove_all(t.path + "/sda/objects");
  r = put(ts1);
  REQUIRE(r.ok());
  CHECK(*r == hash_dir + "/" + ts1 + ".ts");
  r = put(ts2);
  REQUIRE(r.ok());
  CHECK(Names(hash_dir) == std::vector<std::string>{ts2 + ".ts"});
}
