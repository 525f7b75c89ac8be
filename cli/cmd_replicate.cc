// `replicant replicate`: the object replicator daemon (forever or --once).
#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <optional>
#include <tuple>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "ops/log_setup.h"
#include "ops/process_options.h"
#include "ops/signal_watcher.h"
#include "replicator/daemon.h"
#include "replicator/worker_parent.h"

namespace po = boost::program_options;

namespace replicant::cli {
namespace {

// Sets *to_syslog when the lines go to syslog (log_to_syslog).
Status SetupReplicatorLogging(const ReplicatorConfig& cfg, bool console, bool* to_syslog) {
  *to_syslog = cfg.log.to_syslog;
  return SetupLogging(cfg.log, {.debug = false, .console = console});
}

// Swift's daemons let go of the stdio they were started with (capture_stdio) unless
// they log to the console: Swift's Manager (`swift-init object-replicator start`, the
// probe tests) reads a daemon's stdout until it closes, so a daemon holding it makes
// the start hang forever.
void DetachStdio() {
  std::cout.flush();
  std::cerr.flush();
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return;  // keep the inherited fds rather than close them
  for (int fd : {0, 1, 2}) dup2(null, fd);
  close(null);
}

// What the command line asks of `replicant replicate`.
struct ReplicateArgs {
  std::string conf_path = "/etc/swift/object-server.conf";
  bool once = false, verbose = false;
  PassOverrides overrides;
  std::optional<int> worker;
  bool publish_recon = true;
};

// Returns an exit code when the process should exit now (help, bad arguments).
std::optional<int> ParseReplicateArgs(int argc, char** argv, ReplicateArgs* a) {
  po::options_description desc(
      "usage: replicant replicate [CONFIG] [once] [verbose] [-o] [-d DEVS] [-p PARTS]\n"
      "                           [-i POLICIES] [-v]\n"
      "Runs Swift's object replication for this node's devices. CONFIG is a Swift\n"
      "object-server.conf ([DEFAULT] + [object-replicator]); default\n"
      "/etc/swift/object-server.conf. Takes swift-object-replicator's arguments, as\n"
      "swift-init passes them ('once' and 'verbose' as words too).\noptions");
  std::string devs, parts, policies;
  desc.add_options()("help,h", "show this help")(
      "once,o", "run one pass and exit")("devices,d", po::value(&devs),
                                          "only these devices (comma list; with once)")(
      "partitions,p", po::value(&parts), "only these partitions (comma list; with once)")(
      "policies,i", po::value(&policies), "only these policy indexes (comma list; with once)")(
      "verbose,v", "log to the console as well (as Swift's -v)")(
      "worker-index", po::value<int>(),
      "internal: run as this worker of a replicator_workers parent (-d applies without once)")(
      "worker-overrides", "internal: the parent had -d/-p/-i (no recon)");
  po::variables_map vm;
  std::vector<std::string> words;
  if (int rc = ParseCommandLine("replicate", argc, argv, desc, &a->conf_path, &vm, &words);
      rc >= 0) {
    return rc;
  }
  a->once = vm.count("once");
  a->verbose = vm.count("verbose");
  // Swift's parse_options: a word naming an option sets it; others are extra_args,
  // which the replicator ignores.
  for (const auto& w : words) {
    if (w == "once") a->once = true;
    else if (w == "verbose") a->verbose = true;
    else std::cerr << "replicant replicate: ignoring extra argument '" << w << "'\n";
  }
  PassOverrides& overrides = a->overrides;
  if (vm.count("devices")) overrides.devices = ParseNameList(devs);
  for (auto [flag, text, target] : {std::tuple{"--partitions", &parts, &overrides.partitions},
                                    std::tuple{"--policies", &policies, &overrides.policies}}) {
    if (text->empty() && !vm.count(flag + 2)) continue;
    auto v = ParseIntList(flag, *text);
    if (!v.ok()) {
      std::cerr << "replicant replicate: " << v.status().message() << "\n";
      return 2;
    }
    *target = *v;
  }
  if (vm.count("worker-index")) a->worker = vm["worker-index"].as<int>();
  // A worker's recon: its devices' per-disk entries, unless the parent had overrides.
  a->publish_recon = a->worker ? !vm.count("worker-overrides") : !overrides.any();
  if (overrides.any() && !a->once && !a->worker) {
    // Swift's replicator ignores them outside run_once; so do we, but say so.
    std::cerr << "replicant replicate: -d/-p/-i only apply with once; ignored\n";
    overrides = PassOverrides();
  }
  return std::nullopt;
}

}  // namespace

int RunReplicate(int argc, char** argv) {
  ReplicateArgs args;
  if (auto rc = ParseReplicateArgs(argc, argv, &args)) return *rc;
  // Daemon mode takes signals with sigwait in one thread: block them before any thread
  // starts (the progress flusher), so every thread inherits the mask.
  if (!args.once) BlockStopSignals();
  auto cfg = LoadReplicatorConfig(args.conf_path);
  if (!cfg.ok()) {
    std::cerr << "replicant replicate: " << cfg.status().message() << "\n";
    return 1;
  }
  bool to_syslog = false;
  if (auto st = SetupReplicatorLogging(*cfg, args.verbose, &to_syslog); !st.ok()) {
    std::cerr << "replicant replicate: " << st.message() << "\n";
    return 1;
  }
  cfg->worker_index = args.worker;
  if (!args.worker) {
    for (const auto& w : cfg->warnings) spdlog::warn("{}", w);
  }
  // Before any thread starts (they inherit the priorities), as Swift before its run.
  ModifyPriority(cfg->process);
  if (auto st = DropPrivileges(cfg->process); !st.ok()) {
    spdlog::error("{}", st.message());
    return 1;
  }
  if (cfg->replicator_workers > 0 && !args.worker) {
    int rc = RunWorkerParent(*cfg, {args.conf_path, args.once, args.verbose, args.overrides});
    if (rc >= 0) return rc;
  }
  auto daemon = ReplicatorDaemon::Create(*cfg, args.overrides, args.publish_recon);
  if (!daemon.ok()) {
    std::cerr << "replicant replicate: " << daemon.status().message() << "\n";
    return 1;
  }
  if (args.once) return (*daemon)->RunOnce();
  // Without syslog, stderr is the log (systemd's journal): it stays.
  if (!args.verbose && to_syslog) DetachStdio();
  return (*daemon)->RunForever();
}

}  // namespace replicant::cli
