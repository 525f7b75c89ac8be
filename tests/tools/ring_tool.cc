// ring_tool: dumps a ring for differential tests against Swift's Ring.
//
//   ring_tool RINGFILE [PART...]
//
// Prints one JSON line with the ring's metadata and devices (as Swift's _reload fills
// them, null for holes), then one line per partition (all of them when none are
// named): {"part": P, "primaries": [ids], "handoffs": [ids]} with the complete
// get_more_nodes order. Exit 1 with the error on stderr if the ring does not load.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "ring/ring.h"

using replicant::Device;
using replicant::Ring;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: ring_tool RINGFILE [PART...]\n", stderr);
    return 2;
  }
  auto loaded = Ring::Load(argv[1]);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const Ring& ring = **loaded;
  nlohmann::ordered_json head;
  head["part_power"] = ring.part_power();
  head["part_shift"] = ring.part_shift();
  head["partition_count"] = ring.partition_count();
  head["replica_count"] = ring.replica_count();
  head["assigned_device_count"] = ring.assigned_device_count();
  head["devs"] = nlohmann::ordered_json::array();
  for (const auto& d : ring.devices()) {
    if (!d) {
      head["devs"].push_back(nullptr);
      continue;
    }
    head["devs"].push_back({{"id", d->id}, {"region", d->region}, {"zone", d->zone},
                            {"ip", d->ip}, {"port", d->port},
                            {"replication_ip", d->replication_ip},
                            {"replication_port", d->replication_port},
                            {"device", d->device}, {"weight", d->weight}, {"meta", d->meta}});
  }
  std::string out = head.dump() + "\n";
  auto emit = [&](uint32_t part) {
    out += "{\"part\":" + std::to_string(part) + ",\"primaries\":[";
    const char* sep = "";
    for (const Device* d : ring.GetPartNodes(part)) {
      out += sep + std::to_string(d->id);
      sep = ",";
    }
    out += "],\"handoffs\":[";
    sep = "";
    for (const Device* d : ring.GetMoreNodes(part)) {
      out += sep + std::to_string(d->id);
      sep = ",";
    }
    out += "]}\n";
    if (out.size() > (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  };
  if (argc == 2) {
    for (uint32_t p = 0; p < ring.partition_count(); ++p) emit(p);
  } else {
    for (int i = 2; i < argc; ++i) emit(static_cast<uint32_t>(std::strtoul(argv[i], nullptr, 10)));
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
