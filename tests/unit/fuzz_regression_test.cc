// Regression tests for what the fuzz targets (tests/fuzz/, scripts/fuzz.sh) found: each
// input that crashed, hung or blew up memory, with the fixed behaviour asserted (a
// clear error, bounded work). The raw inputs also live in tests/fuzz/regressions/.
#include <catch2/catch.hpp>

#include <string>

#include "formats/config.h"
#include "formats/pickle.h"

using namespace replicant;

namespace {

// Ten levels of options, each naming the one below `refs` times: the value of the last
// expands to refs^9 copies of "x" (6^9: ten million characters from 400 bytes).
std::string InterpolationBomb(int refs) {
  std::string text = "[DEFAULT]\nl0 = x\n";
  for (int i = 1; i <= 9; ++i) {
    text += "l" + std::to_string(i) + " = ";
    for (int k = 0; k < refs; ++k) text += "%(l" + std::to_string(i - 1) + ")s";
    text += "\n";
  }
  return text + "[s]\nk = 1\n";
}

}  // namespace

TEST_CASE("An interpolation bomb in a config is an error, not minutes and gigabytes",
          "[fuzz-regression]") {
  std::string bomb = InterpolationBomb(6);
  REQUIRE(bomb.size() < 500);
  auto conf = ConfigFile::Parse(bomb, "bomb.conf");
  REQUIRE(conf.ok());
  auto section = conf->Section("s");
  REQUIRE_FALSE(section.ok());
  CHECK(section.status().message().find("interpolation") != std::string::npos);
  auto items = conf->Items("DEFAULT");
  REQUIRE_FALSE(items.ok());
  auto one = conf->Get("s", "l9");
  REQUIRE_FALSE(one.ok());
  CHECK(one.status().message().find("bomb.conf") != std::string::npos);
  // Modest interpolation still works, as in Python.
  auto small = ConfigFile::Parse(InterpolationBomb(2), "small.conf");
  REQUIRE(small.ok());
  auto v = small->Get("s", "l9");
  REQUIRE(v.ok());
  CHECK(*v == std::string(512, 'x'));
}

TEST_CASE("A Python 2 str that is not UTF-8 is dumped in a form that loads back",
          "[fuzz-regression]") {
  // pickle_fuzz: protocol 0 STRING with bytes 0x80 0x02 inside, from a Python 2 writer.
  std::string py2 = "(dp0\nS'abc'\np1\nS'd41d\x80\x02" "e'\np2\ns.";
  auto v = pickle::Loads(py2);
  REQUIRE(v.ok());
  REQUIRE(v->Get("abc") != nullptr);
  CHECK(v->Get("abc")->as_string() == "d41d\x80\x02" "e");
  std::string dumped = pickle::Dumps(*v);
  auto back = pickle::Loads(dumped);
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(*back == *v);
  // A long one takes BINSTRING; UTF-8 strs still go out as CPython 3 writes them.
  auto long_str = pickle::Value::Str(std::string(300, '\xff'));
  auto long_back = pickle::Loads(pickle::Dumps(long_str));
  REQUIRE(long_back.ok());
  CHECK(long_back->as_string() == std::string(300, '\xff'));
  CHECK(pickle::Dumps(pickle::Value::Str("abc")) ==
        std::string("\x80\x02X\x03\x00\x00\x00" "abcq\x00" ".", 13));
}
