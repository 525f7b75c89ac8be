// `replicant moveparts` and `replicant restore-device`: queue priority replication jobs
// (receiver/priority_job.h) on the nodes that hold the partitions, so their replicators
// push them ahead of the shuffled pass.
//
//   replicant moveparts OLD_RING [NEW_RING] [--swift-dir DIR] [--policy N]
//   replicant restore-device IP DEVICE [--port P] [--policy N] [--swift-dir DIR]
//
// Exit 0 when every partition that needed a job got one (or had no data anywhere),
// 1 on failures or bad rings, 2 on usage errors.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "replicator/local_devices.h"
#include "replicator/priority_client.h"
#include "ring/ring.h"

namespace po = boost::program_options;

namespace replicant::cli {
namespace {

constexpr const char* kMovePartsUsage =
    "usage: replicant moveparts OLD_RING [NEW_RING] [--swift-dir DIR] [--policy N]\n"
    "  NEW_RING defaults to DIR/object[-N].ring.gz\n";
constexpr const char* kRestoreUsage =
    "usage: replicant restore-device IP DEVICE [--port P] [--policy N] [--swift-dir DIR]\n";

struct Common {
  std::string swift_dir;
  int policy = 0;
  int parallel = 8;
  double timeout = 30;
  std::vector<std::string> args;
  std::optional<int> port;
};

// -1 to go on, else the exit code.
int Parse(const char* cmd, const char* usage, int argc, char** argv, Common* c) {
  po::options_description opts("options");
  opts.add_options()("help,h", "show this help")(
      "swift-dir", po::value<std::string>(&c->swift_dir)->default_value("/etc/swift"),
      "where the current rings are")("policy", po::value<int>(&c->policy)->default_value(0),
                                     "storage policy index")(
      "parallel", po::value<int>(&c->parallel)->default_value(8), "requests at a time")(
      "timeout", po::value<double>(&c->timeout)->default_value(30), "seconds per request")(
      "port", po::value<int>(), "restore-device: the device's replication port, when the IP "
                                "has several devices of that name");
  po::variables_map vm;
  if (int rc = ParseArgs(cmd, usage, argc, argv, opts, &vm, &c->args); rc >= 0) return rc;
  if (vm.count("port")) c->port = vm["port"].as<int>();
  if (c->policy < 0 || c->parallel < 1 || c->timeout <= 0) {
    std::fprintf(stderr, "replicant %s: --policy, --parallel and --timeout must be positive\n%s",
                 cmd, usage);
    return 2;
  }
  return -1;
}

std::string RingPath(const Common& c) {
  return fmt::format("{}/{}.ring.gz", c.swift_dir,
                     c.policy == 0 ? "object" : "object-" + std::to_string(c.policy));
}

int Report(const char* cmd, const SendSummary& s) {
  for (const auto& e : s.errors) std::fprintf(stderr, "replicant %s: %s\n", cmd, e.c_str());
  std::printf("%zu partitions to push: %zu queued (%zu jobs sent), %zu with no data, %zu "
              "failures\n", s.partitions, s.queued, s.jobs, s.empty, s.failures);
  return s.failures ? 1 : 0;
}

}  // namespace

int RunMoveParts(int argc, char** argv) {
  Common c;
  if (int rc = Parse("moveparts", kMovePartsUsage, argc, argv, &c); rc >= 0) return rc;
  if (c.args.empty() || c.args.size() > 2) {
    std::fprintf(stderr, "replicant moveparts: expected OLD_RING [NEW_RING]\n%s", kMovePartsUsage);
    return 2;
  }
  std::string new_path = c.args.size() == 2 ? c.args[1] : RingPath(c);
  auto old_ring = Ring::Load(c.args[0]);
  if (!old_ring.ok()) return std::fprintf(stderr, "replicant moveparts: %s\n",
                                          old_ring.status().message().c_str()), 1;
  auto new_ring = Ring::Load(new_path);
  if (!new_ring.ok()) return std::fprintf(stderr, "replicant moveparts: %s\n",
                                          new_ring.status().message().c_str()), 1;
  auto plan = PlanMoveParts(**old_ring, **new_ring);
  if (!plan.ok()) {
    std::fprintf(stderr, "replicant moveparts: %s\n", plan.status().message().c_str());
    return 1;
  }
  return Report("moveparts", SendPriorityJobs(*plan, c.policy, c.parallel, c.timeout));
}

int RunRestoreDevice(int argc, char** argv) {
  Common c;
  if (int rc = Parse("restore-device", kRestoreUsage, argc, argv, &c); rc >= 0) return rc;
  if (c.args.size() != 2) {
    std::fprintf(stderr, "replicant restore-device: expected IP DEVICE\n%s", kRestoreUsage);
    return 2;
  }
  std::string path = RingPath(c);
  auto ring = Ring::Load(path);
  if (!ring.ok()) {
    std::fprintf(stderr, "replicant restore-device: %s\n", ring.status().message().c_str());
    return 1;
  }
  std::string ip = CanonicalIp(c.args[0]);
  std::vector<const Device*> found;
  for (const auto& d : (*ring)->devices()) {
    if (!d || d->device != c.args[1]) continue;
    if (CanonicalIp(d->ip) != ip && CanonicalIp(d->replication_ip) != ip) continue;
    if (c.port && d->port != *c.port && d->replication_port != *c.port) continue;
    found.push_back(&*d);
  }
  if (found.size() != 1) {
    std::fprintf(stderr, "replicant restore-device: %s matches %zu devices of %s%s\n",
                 (c.args[0] + "/" + c.args[1]).c_str(), found.size(), path.c_str(),
                 found.size() > 1 ? " (give --port)" : "");
    return 1;
  }
  auto plan = PlanRestore(**ring, *found[0]);
  return Report("restore-device", SendPriorityJobs(plan, c.policy, c.parallel, c.timeout));
}

}  // namespace replicant::cli
