// swift_conf_tool SWIFT_DIR: prints what LoadSwiftConf read from SWIFT_DIR/swift.conf as
// JSON ({"prefix_hex", "suffix_hex", "policies": [...]}), for comparison with Swift.
// On error prints the message to stderr and exits 1.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "formats/swift_conf.h"

namespace {
std::string Hex(const std::string& s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: swift_conf_tool SWIFT_DIR\n";
    return 2;
  }
  auto conf = replicant::LoadSwiftConf(argv[1]);
  if (!conf.ok()) {
    std::cerr << conf.status().ToString() << "\n";
    return 1;
  }
  nlohmann::json policies = nlohmann::json::array();
  for (const auto& p : conf->policies) {
    // alias_list as Swift keeps it: the name first.
    nlohmann::json names = nlohmann::json::array({p.name});
    for (const auto& a : p.aliases) names.push_back(a);
    policies.push_back({{"index", p.index},
                        {"name", p.name},
                        {"aliases", names},
                        {"type", p.type},
                        {"default", p.is_default},
                        {"deprecated", p.deprecated}});
  }
  nlohmann::json out = {{"prefix_hex", Hex(conf->hash_path_prefix)},
                        {"suffix_hex", Hex(conf->hash_path_suffix)},
                        {"policies", policies}};
  std::cout << out.dump() << "\n";
  return 0;
}
