// `replicant ring`: where a partition or an object lives, like swift-get-nodes.
//
//   replicant ring RINGFILE (--partition P | --object A/C/O [--swift-dir DIR])
//                  [--handoffs K] [--json]
//
// Handoffs are the first K of Swift's get_more_nodes; K defaults to the number of
// primaries, as swift-get-nodes shows without --all. Exit 0 on success, 1 when the
// ring, swift.conf, partition or name is bad, 2 on usage errors.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "formats/swift_conf.h"
#include "cli/cli_args.h"
#include "cli/commands.h"
#include "ring/hash_path.h"
#include "ring/ring.h"

namespace po = boost::program_options;

namespace replicant::cli {

namespace {

constexpr const char* kRingUsage =
    "usage: replicant ring RINGFILE (--partition P | --object A/C/O [--swift-dir DIR])\n"
    "                      [--handoffs K] [--json]\n";

struct ObjectName {
  std::string account, container, object;
};

// "A/C/O": the first two '/' split; the object keeps any further '/'.
std::optional<ObjectName> ParseObjectName(const std::string& s) {
  size_t a = s.find('/');
  if (a == std::string::npos) return std::nullopt;
  size_t c = s.find('/', a + 1);
  if (c == std::string::npos) return std::nullopt;
  ObjectName n{s.substr(0, a), s.substr(a + 1, c - a - 1), s.substr(c + 1)};
  if (n.account.empty() || n.container.empty() || n.object.empty()) return std::nullopt;
  return n;
}

std::optional<uint64_t> ParseUnsigned(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  return v;
}

nlohmann::ordered_json DevJson(const Device& d) {
  return {{"id", d.id},
          {"region", d.region},
          {"zone", d.zone},
          {"ip", d.ip},
          {"port", d.port},
          {"replication_ip", d.replication_ip},
          {"replication_port", d.replication_port},
          {"device", d.device},
          {"weight", d.weight}};
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "replicant ring: %s\n", msg.c_str());
  return 1;
}

int Usage(const std::string& msg) { return UsageError("ring", kRingUsage, msg); }

// Prints the partition's nodes: JSON, or the layout of swift-get-nodes.
void PrintNodes(const Ring& ring, const std::string& ring_file, uint32_t part,
                const ObjectName* name, const std::string& hash,
                const std::vector<const Device*>& primaries,
                const std::vector<const Device*>& more, bool as_json) {
  if (as_json) {
    nlohmann::ordered_json out;
    out["part_power"] = ring.part_power();
    out["replica_count"] = ring.replica_count();
    out["partition"] = part;
    if (name) out["hash"] = hash;
    out["primaries"] = nlohmann::ordered_json::array();
    for (const Device* d : primaries) out["primaries"].push_back(DevJson(*d));
    out["handoffs"] = nlohmann::ordered_json::array();
    for (const Device* d : more) out["handoffs"].push_back(DevJson(*d));
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }

  // The layout of swift-get-nodes, without its curl/ssh hints.
  std::cout << "Ring     \t" << ring_file << "\n"
            << "Replicas \t" << ring.replica_count() << " (part power " << ring.part_power()
            << ")\n";
  if (name) {
    std::cout << "Account  \t" << name->account << "\n"
              << "Container\t" << name->container << "\n"
              << "Object   \t" << name->object << "\n";
  }
  std::cout << "Partition\t" << part << "\n"
            << "Hash     \t" << (name ? hash : "None") << "\n\n";
  for (const Device* d : primaries)
    std::cout << "Server:Port Device\t" << d->ip << ":" << d->port << " " << d->device << "\n";
  for (const Device* d : more)
    std::cout << "Server:Port Device\t" << d->ip << ":" << d->port << " " << d->device
              << "\t [Handoff]\n";
}

}  // namespace

int RunRing(int argc, char** argv) {
  po::options_description opts("options");
  opts.add_options()
      ("help,h", "show this help")
      ("partition", po::value<std::string>(), "partition number")
      ("object", po::value<std::string>(), "ACCOUNT/CONTAINER/OBJECT (hashed with swift.conf)")
      ("swift-dir", po::value<std::string>()->default_value("/etc/swift"),
       "directory holding swift.conf (for --object)")
      ("handoffs", po::value<std::string>(), "number of handoffs to list (default: as many as primaries)")
      ("json", "print JSON");
  po::variables_map vm;
  std::vector<std::string> files;
  if (int rc = ParseArgs("ring", kRingUsage, argc, argv, opts, &vm, &files); rc >= 0) return rc;
  if (files.empty()) return Usage("missing RINGFILE");
  if (files.size() != 1) return Usage("expected exactly one RINGFILE");
  if (vm.count("partition") == vm.count("object"))
    return Usage("give exactly one of --partition and --object");
  std::optional<uint64_t> handoffs;
  if (vm.count("handoffs")) {
    handoffs = ParseUnsigned(vm["handoffs"].as<std::string>());
    if (!handoffs) return Usage("--handoffs wants a non-negative integer");
  }
  std::optional<uint64_t> want_part;
  if (vm.count("partition")) {
    want_part = ParseUnsigned(vm["partition"].as<std::string>());
    if (!want_part) return Usage("--partition wants a non-negative integer");
  }

  auto loaded = Ring::Load(files[0]);
  if (!loaded.ok()) return Fail(loaded.status().message());
  const Ring& ring = **loaded;

  uint32_t part = 0;
  std::optional<ObjectName> name;
  std::string hash;
  if (want_part) {
    if (*want_part >= ring.partition_count())
      return Fail("partition " + std::to_string(*want_part) + " is out of range: " + files[0] +
                  " has " + std::to_string(ring.partition_count()) + " partitions");
    part = static_cast<uint32_t>(*want_part);
  } else {
    const std::string& arg = vm["object"].as<std::string>();
    name = ParseObjectName(arg);
    if (!name) return Fail("bad object name '" + arg + "': want ACCOUNT/CONTAINER/OBJECT");
    auto conf = LoadSwiftConf(vm["swift-dir"].as<std::string>());
    if (!conf.ok()) return Fail(conf.status().message());
    std::string digest = HashPathDigest(conf->hash_path_prefix, conf->hash_path_suffix,
                                        name->account, name->container, name->object);
    hash = HexEncode(digest);
    part = ring.GetPartFromDigest(digest);
  }

  std::vector<const Device*> primaries = ring.GetPartNodes(part);
  std::vector<const Device*> more =
      ring.GetMoreNodes(part, handoffs ? static_cast<size_t>(*handoffs) : primaries.size());
  PrintNodes(ring, files[0], part, name ? &*name : nullptr, hash, primaries, more,
             vm.count("json") > 0);
  return 0;
}

}  // namespace replicant::cli
