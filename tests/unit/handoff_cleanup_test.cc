// diskfile::RemoveHandoffFiles: what a handoff may delete once its objects are confirmed.
#include <catch2/catch.hpp>

#include <string>

#include "diskfile/handoff_cleanup.h"
#include "tests/unit/hashes_test_util.h"

using namespace replicant;
using replicant::testing::Exists;
using replicant::testing::TempDir;
using replicant::testing::WriteFile;

namespace {

constexpr const char* kHash = "d41d8cd98f00b204e9800998ecf8427e";
constexpr const char* kTs = "1700000000.00000";

}  // namespace

// Swift's probe test test_object_handoff drops ".<ts>.data.6MbL6r" in a handoff's hash
// dir (an rsync failure's leftover) and expects the revert to remove the object.
TEST_CASE("Handoff cleanup removes a confirmed object with an rsync temp file beside it",
          "[hashes][handoff]") {
  TempDir t;
  std::string part = t / "objects/7";
  std::string hash_dir = part + "/27e/" + kHash;
  WriteFile(hash_dir + "/" + kTs + ".data", "body");
  auto snap = diskfile::ListHandoffObjects(part, {"27e"});
  REQUIRE(snap.ok());
  WriteFile(hash_dir + "/." + kTs + ".data.6MbL6r");
  diskfile::ConfirmedObjects confirmed{{kHash, kTs}};
  auto c = diskfile::RemoveHandoffFiles(part, *snap, &confirmed);
  CHECK(c.error_paths.empty());
  CHECK(c.removed == 1);
  CHECK(c.partition_removed);
  CHECK_FALSE(Exists(part));
}

TEST_CASE("Handoff cleanup keeps an object that gained a Swift file after the snapshot",
          "[hashes][handoff]") {
  TempDir t;
  std::string part = t / "objects/7";
  std::string hash_dir = part + "/27e/" + kHash;
  WriteFile(hash_dir + "/" + kTs + ".data", "body");
  auto snap = diskfile::ListHandoffObjects(part, {"27e"});
  REQUIRE(snap.ok());
  WriteFile(hash_dir + "/1700000001.00000.meta");  // a POST during the revert
  diskfile::ConfirmedObjects confirmed{{kHash, kTs}};
  auto c = diskfile::RemoveHandoffFiles(part, *snap, &confirmed);
  CHECK(c.removed == 0);
  CHECK_FALSE(c.partition_removed);
  CHECK(Exists(hash_dir + "/" + kTs + ".data"));
  CHECK(Exists(hash_dir + "/1700000001.00000.meta"));
}
