// libFuzzer target: Swift INI config text (object-server.conf and friends) read as
// readconf reads it, and as ConfigParser with basic interpolation, latin-1 and
// strict=False: every section is looked up and every value interpolated.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/config.h"

using namespace replicant;

namespace {

void Walk(std::string_view text, const ConfigOptions& opts) {
  auto conf = ConfigFile::Parse(text, "fuzz.conf", opts);
  if (!conf.ok()) return;
  (void)conf->Items("DEFAULT");
  for (const std::string& name : conf->SectionNames()) {
    auto section = conf->Section(name);
    if (!section.ok()) continue;
    size_t n = 0;
    for (const auto& [key, value] : section->items()) {
      // A sample of the keys: looking each one up would make the harness quadratic.
      if (++n > 64) break;
      (void)conf->Get(name, key);
      (void)section->GetInt(key, 0);
      (void)section->GetDouble(key, 0);
      (void)section->GetList(key);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Walk(in, ConfigOptions{});
  ConfigOptions raw;
  raw.encoding = ConfigOptions::Encoding::kLatin1;
  raw.interpolation = ConfigOptions::Interpolation::kBasic;
  raw.strict = false;
  raw.paste_set = true;
  Walk(in, raw);
  return 0;
}
