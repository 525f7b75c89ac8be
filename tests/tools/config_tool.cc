// config_tool PATH SECTION: prints the section as replicant's ConfigFile reads it (as
// Swift's readconf(PATH, SECTION) would return it, less "__file__") as a JSON object.
// PATH may be a conf.d directory. On error prints the message to stderr and exits 1.
#include <iostream>

#include <nlohmann/json.hpp>

#include "formats/config.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: config_tool PATH SECTION\n";
    return 2;
  }
  auto file = replicant::ConfigFile::Load(argv[1]);
  if (!file.ok()) {
    std::cerr << file.status().ToString() << "\n";
    return 1;
  }
  auto section = file->Section(argv[2]);
  if (!section.ok()) {
    std::cerr << section.status().ToString() << "\n";
    return 1;
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : section->items()) out[key] = value;
  std::cout << out.dump() << "\n";
  return 0;
}
