// replicate_tool IP PORT DEVICE PARTITION POLICY [REPEAT [SLEEP [MANY]]]: drives
// ReplicateClient against a real server for the integration tests. Sends REPEAT
// GetHashes (default 1) SLEEP seconds apart (default 0), then one StartGetHashes to
// MANY copies of the peer (default 0 = none), and prints JSON:
//   {"results": [{"status": 200, "hashes": {...}} | {"error": "..."}...],
//    "connects": N, "reuses": N, "retries": N}
// (the transport's counters tell whether connections were kept alive).
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "net/http_transport.h"
#include "replicator/replicate_client.h"

namespace {

nlohmann::json ToJson(const replicant::Result<replicant::ReplicateResponse>& r) {
  if (!r.ok()) return {{"error", r.status().message()}};
  nlohmann::json hashes = nlohmann::json::object();
  for (const auto& [k, v] : r->hashes) hashes[k] = v;
  return {{"status", r->http_status}, {"hashes", hashes}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6 || argc > 9) {
    std::cerr << "usage: replicate_tool IP PORT DEVICE PARTITION POLICY [REPEAT [SLEEP [MANY]]]\n";
    return 2;
  }
  replicant::ReplicatePeer peer{argv[1], std::stoi(argv[2]), argv[3]};
  std::string partition = argv[4];
  int policy = std::stoi(argv[5]);
  int repeat = argc > 6 ? std::stoi(argv[6]) : 1;
  double sleep_s = argc > 7 ? std::stod(argv[7]) : 0;
  int many = argc > 8 ? std::stoi(argv[8]) : 0;
  spdlog::set_level(spdlog::level::warn);  // stdout is the JSON answer
  replicant::ReplicateClient client({2.0, 10.0});
  nlohmann::json results = nlohmann::json::array();
  for (int i = 0; i < repeat; ++i) {
    if (i && sleep_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(sleep_s));
    results.push_back(ToJson(client.GetHashes(peer, partition, policy)));
  }
  if (many > 0) {
    std::vector<replicant::HashesRequest> requests(static_cast<size_t>(many),
                                                   {peer, partition, policy});
    for (const auto& r : client.StartGetHashes(requests)->Collect()) results.push_back(ToJson(r));
  }
  auto c = replicant::net::ThreadHttpCounters();
  std::cout << nlohmann::json{{"results", results},
                              {"connects", c.connects},
                              {"reuses", c.reuses},
                              {"retries", c.retries}}
                   .dump()
            << "\n";
  return 0;
}
