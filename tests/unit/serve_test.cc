// `replicant serve`: Swift's request path rules and the server's configuration.
// Expected values come from running Swift 2.30's own functions (split_path,
// validate_device_partition, get_by_index, swob bodies) on the same inputs.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "diskfile/drive.h"
#include "formats/config.h"
#include "formats/py_text.h"
#include "receiver/server_config.h"
#include "receiver/swift_path.h"

namespace {

using namespace replicant;
using namespace replicant::receiver;
namespace fs = std::filesystem;

using Segs = std::vector<std::optional<std::string>>;

std::string SplitError(std::string_view path, int mi, int ma, bool rest) {
  auto r = SplitPath(path, mi, ma, rest);
  return r.ok() ? "ok" : r.status().message();
}

struct ServeTempDir {
  std::string path;
  ServeTempDir() {
    std::string tmpl = (fs::temp_directory_path() / "serve-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~ServeTempDir() { fs::remove_all(path); }
};

Result<ServerConfig> ConfigFrom(const std::string& text) {
  auto file = ConfigFile::Parse(text, "test.conf");
  if (!file.ok()) return file.status();
  auto sec = file->Section(kServerSection);
  if (!sec.ok()) return sec.status();
  return ServerConfigFromSection(*sec);
}

std::string ConfigError(const std::string& server_options) {
  auto c = ConfigFrom("[DEFAULT]\ndevices = /srv/node\n[replicant-server]\nbind_port = 6300\n" +
                      server_options);
  return c.ok() ? "ok" : c.status().message();
}

}  // namespace

TEST_CASE("SplitPath matches swift.common.utils.split_path", "[serve]") {
  CHECK(*SplitPath("/a", 1, 0, false) == Segs{"a"});
  CHECK(*SplitPath("/a", 1, 2, false) == Segs{"a", std::nullopt});
  CHECK(*SplitPath("/a/c", 1, 2, false) == Segs{"a", "c"});
  CHECK(*SplitPath("/a/c/o/r", 1, 3, true) == Segs{"a", "c", "o/r"});
  CHECK(*SplitPath("/a/c/", 1, 2, false) == Segs{"a", "c"});
  CHECK(*SplitPath("/a/c/", 2, 0, false) == Segs{"a", "c"});
  CHECK(*SplitPath("/a/", 1, 0, false) == Segs{"a"});
  CHECK(*SplitPath("/sdb1/5/", 2, 3, true) == Segs{"sdb1", "5", ""});
  CHECK(*SplitPath("/sdb1/5//", 2, 3, true) == Segs{"sdb1", "5", "/"});
  CHECK(*SplitPath("/sdb1/5", 2, 3, true) == Segs{"sdb1", "5", std::nullopt});
  CHECK(SplitError("//a", 1, 0, false) == "Invalid path: //a");
  CHECK(SplitError("/a/c/x", 2, 2, false) == "Invalid path: /a/c/x");
  CHECK(SplitError("a/c", 2, 2, false) == "Invalid path: a/c");
  CHECK(SplitError("/a/c/o/r", 2, 3, false) == "Invalid path: /a/c/o/r");
  CHECK(SplitError("/sdb1//x", 2, 3, true) == "Invalid path: /sdb1//x");
  CHECK(SplitError("", 1, 0, false) == "Invalid path: ");
  CHECK(SplitError("/", 1, 0, false) == "Invalid path: /");
  CHECK(SplitError("/a/c//", 2, 2, false) == "Invalid path: /a/c//");
}

TEST_CASE("py::Quote quotes a WSGI string as Swift's messages do", "[serve]") {
  CHECK(py::Quote("/a b/c~d") == "/a%20b/c~d");
  // Each byte is a Latin-1 character that quote() encodes as UTF-8 again.
  CHECK(py::Quote("/s~d\xc3\xa9/1/2/3/4") == "/s~d%C3%83%C2%A9/1/2/3/4");
}

TEST_CASE("ValidateDevicePartition rejects what could leave the devices dir", "[serve]") {
  CHECK(ValidateDevicePartition("sdb1", "5").ok());
  CHECK(ValidateDevicePartition("..", "5").message() == "Invalid device: ..");
  CHECK(ValidateDevicePartition(".", "5").message() == "Invalid device: .");
  CHECK(ValidateDevicePartition("", "5").message() == "Invalid device: ");
  CHECK(ValidateDevicePartition("a/b", "5").message() == "Invalid device: a/b");
  CHECK(ValidateDevicePartition("sdb1", "..").message() == "Invalid partition: ..");
}

TEST_CASE("ParseReplicatePath: Swift's rules plus replicant's stricter ones", "[serve]") {
  auto t = ParseReplicatePath("/sdb1/5");
  REQUIRE(t.ok());
  CHECK(t->device == "sdb1");
  CHECK(t->partition == "5");
  CHECK(t->suffixes.empty());
  t = ParseReplicatePath("/sdb1/5/");  // empty suffix part: the hashes, as in Swift
  REQUIRE(t.ok());
  CHECK(t->suffixes.empty());
  t = ParseReplicatePath("/sdb1/5/abc-def-xyz");
  REQUIRE(t.ok());
  CHECK(t->suffixes == std::vector<std::string>{"abc", "def", "xyz"});
  t = ParseReplicatePath("/sdb1/5/abc-");  // Swift: ['abc', ''], '' is then ignored
  REQUIRE(t.ok());
  CHECK(t->suffixes == std::vector<std::string>{"abc", ""});

  auto err = [](std::string_view p) {
    auto r = ParseReplicatePath(p);
    return r.ok() ? std::string("ok") : r.status().message();
  };
  CHECK(err("/../etc/1") == "Invalid device: ..");
  CHECK(err("/sdb1/..") == "Invalid partition: ..");
  CHECK(err("/sdb1") == "Invalid path: /sdb1");
  CHECK(err("/sdb1//abc") == "Invalid path: /sdb1//abc");
  // Deliberately stricter than Swift (which would touch objects/notanumber, or drop
  // the odd suffixes silently and answer 200).
  CHECK(err("/dev/notanumber") == "Invalid partition: notanumber");
  CHECK(err("/dev/05") == "Invalid partition: 05");
  CHECK(err("/dev/4294967296") == "Invalid partition: 4294967296");
  CHECK(err("/dev/4294967295") == "ok");
  CHECK(err("/dev/1/../../x") == "Invalid suffix: ../../x");
  CHECK(err("/dev/1/abc-..") == "Invalid suffix: ..");
  CHECK(err("/dev/1//") == "Invalid suffix: /");
}

TEST_CASE("ParseSsyncPath takes exactly /device/partition", "[serve]") {
  auto t = ParseSsyncPath("/sdb1/17");
  REQUIRE(t.ok());
  CHECK(t->device == "sdb1");
  CHECK(t->partition == "17");
  CHECK(ParseSsyncPath("/sdb1/17/").ok());
  CHECK(ParseSsyncPath("/sdb1/17/abc").status().message() == "Invalid path: /sdb1/17/abc");
  CHECK(ParseSsyncPath("/../17").status().message() == "Invalid device: ..");
  CHECK(!ParseSsyncPath("/sdb1/x").ok());
}

TEST_CASE("CheckUtf8, ValidSuffix and CanonicalPartition", "[serve]") {
  CHECK(CheckUtf8("/sdb1/5"));
  CHECK(CheckUtf8("/sd\xc3\xa9"));
  CHECK_FALSE(CheckUtf8(""));
  CHECK(CheckUtf8(std::string("/a\0b", 4)));  // RESERVED_BYTE, allowed with internal=True
  CHECK(ParseReplicatePath(std::string("/sdb1/\0", 7)).status().message() ==
        std::string("Invalid partition: %00"));
  CHECK_FALSE(CheckUtf8("/\xff"));
  CHECK_FALSE(CheckUtf8("/\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(CheckUtf8("/\xed\xa0\x80"));      // surrogate
  CHECK(ValidSuffix("0af"));
  CHECK_FALSE(ValidSuffix("0AF"));
  CHECK_FALSE(ValidSuffix("tmp"));
  CHECK_FALSE(ValidSuffix("abcd"));
  CHECK(CanonicalPartition("0"));
  CHECK_FALSE(CanonicalPartition(""));
  CHECK_FALSE(CanonicalPartition("+1"));
}

TEST_CASE("ResolvePolicy is POLICIES.get_by_index of the header", "[serve]") {
  auto swift = ParseSwiftConf(
      "[swift-hash]\nswift_hash_path_suffix = s\n[storage-policy:0]\nname = gold\n"
      "default = yes\n[storage-policy:2]\nname = silver\n",
      "swift.conf");
  REQUIRE(swift.ok());
  std::string empty, two = " 2 ", bad = "x", absent = "1";
  CHECK(ResolvePolicy(*swift, nullptr)->index == 0);
  CHECK(ResolvePolicy(*swift, &empty)->index == 0);
  CHECK(ResolvePolicy(*swift, &two)->index == 2);
  CHECK(ResolvePolicy(*swift, &bad) == nullptr);
  CHECK(ResolvePolicy(*swift, &absent) == nullptr);
  CHECK(NoSuchPolicy(&absent).status == 503);
  CHECK(NoSuchPolicy(&absent).body == "No policy with index 1");
  CHECK(NoSuchPolicy(nullptr).body == "No policy with index None");
  CHECK(NoSuchPolicy(&absent).content_type == "text/plain");
  CHECK(InsufficientStorage("sdz").body ==
        "<html><h1>Insufficient Storage</h1><p>There was not enough space to save the "
        "resource. Drive: sdz</p></html>");
}

TEST_CASE("CheckDrive is constraints.check_drive", "[serve]") {
  ServeTempDir d;
  fs::create_directories(d.path + "/sdb1");
  std::ofstream(d.path + "/afile") << "x";
  CHECK(*diskfile::CheckDrive(d.path, "sdb1", false) == d.path + "/sdb1");
  CHECK(*diskfile::CheckDrive(d.path + "/", "sdb1", false) == d.path + "/sdb1");
  CHECK(diskfile::CheckDrive(d.path, "sdz", false).status().message() == d.path + "/sdz is not a directory");
  CHECK(!diskfile::CheckDrive(d.path, "afile", false).ok());
  CHECK(diskfile::CheckDrive(d.path, "sd b", false).status().message() == "sd b is not a valid drive name");
  CHECK(!diskfile::CheckDrive(d.path, "sd%2F", false).ok());
  // A plain directory is not a mount point, unless it holds a .ismount file.
  CHECK(diskfile::CheckDrive(d.path, "sdb1", true).status().message() == d.path + "/sdb1 is not mounted");
  std::ofstream(d.path + "/sdb1/.ismount") << "";
  CHECK(diskfile::CheckDrive(d.path, "sdb1", true).ok());
  CHECK(diskfile::IsMount("/"));
}

TEST_CASE("Server config: Swift's defaults", "[serve]") {
  auto c = ConfigFrom(
      "[DEFAULT]\ndevices = /srv/disks\nmount_check = false\nbind_port = 6200\n"
      "reclaim_age = 3600\n[replicant-server]\nbind_port = 6300\n");
  REQUIRE(c.ok());
  CHECK(c->bind_ip == "0.0.0.0");
  CHECK(c->bind_port == 6300);  // the section's own value wins over [DEFAULT]
  CHECK(c->devices == "/srv/disks");
  CHECK_FALSE(c->mount_check);
  CHECK(c->swift_dir == "/etc/swift");
  CHECK(c->replication_concurrency == 4);
  CHECK(c->replication_concurrency_per_device == 1);
  CHECK(c->replication_lock_timeout == 15);
  CHECK(c->client_timeout == 60);
  CHECK(c->node_timeout == 3);
  CHECK(c->network_chunk_size == 65536);
  CHECK(c->reclaim_age == 3600);
  CHECK(c->log_name == "replicant-server");
  CHECK(c->log_level == "INFO");
  CHECK(c->native_batch_sync == "syncfs");
}

TEST_CASE("Server config: option parsing follows Swift's", "[serve]") {
  // int(conf.get('replication_concurrency') or 4)
  auto c = ConfigFrom("[replicant-server]\nbind_port = 1\nreplication_concurrency =\n");
  REQUIRE(c.ok());
  CHECK(c->replication_concurrency == 4);
  c = ConfigFrom("[replicant-server]\nbind_port = 1\nreplication_concurrency = 0\n");
  REQUIRE(c.ok());
  CHECK(c->replication_concurrency == 0);
  // The deprecated replication_one_per_device only without the new option.
  c = ConfigFrom("[replicant-server]\nbind_port = 1\nreplication_one_per_device = false\n");
  REQUIRE(c.ok());
  CHECK(c->replication_concurrency_per_device == 0);
  c = ConfigFrom("[replicant-server]\nbind_port = 1\nreplication_one_per_device = false\n"
                 "replication_concurrency_per_device = 3\n");
  REQUIRE(c.ok());
  CHECK(c->replication_concurrency_per_device == 3);
  c = ConfigFrom("[replicant-server]\nbind_port = 1\nclient_timeout = 0.5\n");
  REQUIRE(c.ok());
  CHECK(c->client_timeout == 0.5);
}

TEST_CASE("Server config errors name the file, section and option", "[serve]") {
  CHECK(ConfigError("") == "ok");
  auto no_port = ConfigFrom("[replicant-server]\nbind_ip = 127.0.0.1\n");
  REQUIRE_FALSE(no_port.ok());
  CHECK(no_port.status().message() ==
        "test.conf: [replicant-server] bind_port: must be set (the replication port)");
  auto no_section = ConfigFrom("[DEFAULT]\nbind_port = 1\n");
  REQUIRE_FALSE(no_section.ok());
  CHECK_THAT(no_section.status().message(), Catch::Contains("replicant-server"));
  CHECK_THAT(ConfigError("replication_concurrency = many\n"),
             Catch::Contains("replication_concurrency") && Catch::Contains("many"));
  CHECK_THAT(ConfigError("replication_concurrency = -1\n"),
             Catch::Contains("test.conf: [replicant-server] replication_concurrency = -1"));
  CHECK_THAT(ConfigError("replication_concurrency_per_device = -2\n"),
             Catch::Contains("replication_concurrency_per_device"));
  CHECK_THAT(ConfigError("replication_lock_timeout = 1.5\n"),
             Catch::Contains("replication_lock_timeout"));
  CHECK_THAT(ConfigError("client_timeout = 0\n"),
             Catch::Contains("client_timeout = 0: must be a number of seconds greater than 0"));
  CHECK_THAT(ConfigError("client_timeout = nan\n"), Catch::Contains("client_timeout"));
  CHECK_THAT(ConfigError("node_timeout = -3\n"), Catch::Contains("node_timeout"));
  CHECK_THAT(ConfigError("network_chunk_size = 0\n"), Catch::Contains("network_chunk_size"));
  auto big_port = ConfigFrom("[replicant-server]\nbind_port = 70000\n");
  REQUIRE_FALSE(big_port.ok());
  CHECK_THAT(big_port.status().message(), Catch::Contains("bind_port = 70000"));
  CHECK_THAT(ConfigError("reclaim_age = -1\n"), Catch::Contains("reclaim_age"));
  CHECK_THAT(ConfigError("log_level = LOUD\n"), Catch::Contains("log_level = LOUD"));
  CHECK(ConfigError("log_level = warning\n") == "ok");
  CHECK(ConfigError("native_batch_sync = fsync\n") == "ok");
  CHECK_THAT(ConfigError("native_batch_sync = none\n"),
             Catch::Contains("native_batch_sync = none: expected syncfs or fsync"));
}

TEST_CASE("LoadServerConfig reads a file and reports a missing one", "[serve]") {
  ServeTempDir d;
  std::string path = d.path + "/object-server.conf";
  std::ofstream(path) << "[DEFAULT]\nbind_port = 6200\n[replicant-server]\nbind_port = 6201\n";
  auto c = LoadServerConfig(path);
  REQUIRE(c.ok());
  CHECK(c->bind_port == 6201);
  CHECK(c->source == path);
  auto missing = LoadServerConfig(d.path + "/nope.conf");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("nope.conf"));
}
