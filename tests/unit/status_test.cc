#include <catch2/catch.hpp>
#include <cerrno>

#include "base/status.h"

using replicant::Result;
using replicant::Status;

TEST_CASE("Status carries code and context", "[status]") {
  Status s = Status::Corruption("bad magic").WithContext("/etc/swift/object.ring.gz");
  CHECK_FALSE(s.ok());
  CHECK(s.IsCorruption());
  CHECK(s.ToString() == "Corruption: /etc/swift/object.ring.gz: bad magic");
  CHECK(Status::OK().WithContext("x").ok());
  CHECK(Status::FromErrno("open foo", ENOENT).IsNotFound());
  CHECK(Status::FromErrno("open foo", EACCES).message() == "open foo: Permission denied");
}

TEST_CASE("Result holds a value or a status", "[status]") {
  Result<int> good = 42;
  REQUIRE(good.ok());
  CHECK(*good == 42);
  Result<int> bad = Status::NotFound("nope");
  CHECK_FALSE(bad.ok());
  CHECK(bad.status().message() == "nope");
}
