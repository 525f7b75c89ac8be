// `replicant serve`: the replication server (REPLICATE, SSYNC, REPCONN) on the replication port.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "formats/swift_conf.h"
#include "receiver/handlers.h"
#include "receiver/server.h"
#include "receiver/server_config.h"
#include "cli/cli_args.h"
#include "cli/commands.h"
#include "ops/log_setup.h"
#include "ops/process_options.h"
#include "ops/signal_watcher.h"
#include "ops/sd_notify.h"
#include "receiver/ops_handlers.h"

namespace po = boost::program_options;

namespace replicant::cli {
namespace {

// Serves until SIGTERM/SIGINT, then drains; the exit code.
int ServeUntilStopped(receiver::Server& server, SystemdNotifier& notifier) {
  // The server bounds its own drain (Server::Run), so the watcher gives no grace.
  SignalWatcher watcher({
      .on_reload =
          [] {
            spdlog::info("SIGHUP ignored: restart replicant serve to apply a new configuration");
          },
      .on_stop =
          [&](int signo) -> std::optional<double> {
            spdlog::info("Signal {}: no new connections; finishing the requests in flight",
                         signo);
            notifier.Stopping("finishing the requests in flight");
            server.Stop();
            return std::nullopt;
          },
      .on_exit_now = nullptr,
  });
  bool drained = server.Run();
  watcher.Join();
  if (!drained) {
    // Exit without waiting for (or destroying the server under) the stuck threads.
    spdlog::error("replicant serve exiting with requests still running");
    spdlog::shutdown();
    std::_Exit(1);
  }
  spdlog::info("replicant serve exiting");
  return 0;
}

}  // namespace

int RunServe(int argc, char** argv) {
  po::options_description desc(
      "usage: replicant serve [CONFIG] [-v]\n"
      "Serves REPLICATE, SSYNC and REPCONN (native) on the replication port, as Swift's object\n"
      "server does for the first two; GET /metrics and /progress for operators.\n"
      "CONFIG is a Swift object-server.conf ([DEFAULT] + [replicant-server]); default\n"
      "/etc/swift/object-server.conf.\noptions");
  std::string conf_path = receiver::kDefaultServerConfig;
  desc.add_options()("help,h", "show this help")("verbose,v", "log debug lines");
  po::variables_map vm;
  if (int rc = ParseCommandLine("serve", argc, argv, desc, &conf_path, &vm); rc >= 0) return rc;

  auto cfg = receiver::LoadServerConfig(conf_path);
  if (!cfg.ok()) {
    std::cerr << "replicant serve: " << cfg.status().message() << "\n";
    return 1;
  }
  auto swift = LoadSwiftConf(cfg->swift_dir);
  if (!swift.ok()) {
    std::cerr << "replicant serve: " << swift.status().message() << "\n";
    return 1;
  }
  if (auto st = SetupLogging(cfg->log, {.debug = vm.count("verbose") > 0, .console = false});
      !st.ok()) {
    std::cerr << "replicant serve: " << st.message() << "\n";
    return 1;
  }
  for (const auto& w : cfg->warnings) spdlog::warn("{}", w);
  const ProcessOptions& process = cfg->process;
  ModifyPriority(process);  // before the server's threads, which inherit it

  // Signals are taken by one thread with sigwait; every other thread blocks them.
  BlockStopSignals();
  signal(SIGPIPE, SIG_IGN);

  receiver::Server server(*cfg, *swift);
  receiver::RegisterReplicationHandlers(server);
  RegisterOpsHandlers(server, cfg->progress_path);
  receiver::SyncDevicesAtStart(cfg->devices);
  if (auto st = server.Listen(); !st.ok()) {
    std::cerr << "replicant serve: " << st.message() << "\n";
    return 1;
  }
  // As Swift's servers: bind first (a port below 1024 needs root), then drop.
  if (auto st = DropPrivileges(process); !st.ok()) {
    spdlog::error("{}", st.message());
    return 1;
  }
  spdlog::info("replicant serve listening on {}:{} (devices {}, mount_check {}, "
               "replication_concurrency {}, per device {})",
               cfg->bind_ip, server.port(), cfg->devices, cfg->mount_check,
               cfg->replication_concurrency, cfg->replication_concurrency_per_device);
  spdlog::info("GET /metrics and /progress read {}", cfg->progress_path);
  SystemdNotifier notifier;
  notifier.Ready(fmt::format("serving REPLICATE and SSYNC on {}:{}", cfg->bind_ip, server.port()));

  return ServeUntilStopped(server, notifier);
}

}  // namespace replicant::cli
