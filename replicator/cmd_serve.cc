// `replicant serve`: the replication server (REPLICATE, SSYNC) on the replication port.
#include <signal.h>

#include <iostream>
#include <thread>

#include <boost/program_options.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "formats/swift_conf.h"
#include "receiver/handlers.h"
#include "receiver/server.h"
#include "receiver/server_config.h"
#include "replicator/commands.h"

namespace po = boost::program_options;

namespace replicant::cli {
namespace {

void SetupServeLogging(const std::string& name, const std::string& level, bool verbose) {
  auto logger = spdlog::stderr_logger_mt(name);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
  std::string l = level;
  for (auto& c : l) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (l == "warning") l = "warn";
  if (l == "notice") l = "info";
  auto lvl = spdlog::level::from_str(l);
  if (lvl == spdlog::level::off && l != "off") lvl = spdlog::level::info;
  logger->set_level(verbose ? spdlog::level::debug : lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace

int RunServe(int argc, char** argv) {
  po::options_description desc(
      "usage: replicant serve [CONFIG] [-v]\n"
      "Serves REPLICATE and SSYNC on the replication port, as Swift's object server does.\n"
      "CONFIG is a Swift object-server.conf ([DEFAULT] + [replicant-server]); default\n"
      "/etc/swift/object-server.conf.\noptions");
  std::string conf_path = receiver::kDefaultServerConfig;
  desc.add_options()("help,h", "show this help")("verbose,v", "log debug lines");
  po::options_description hidden;
  hidden.add_options()("config", po::value(&conf_path));
  po::positional_options_description pos;
  pos.add("config", 1);
  po::options_description all;
  all.add(desc).add(hidden);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "replicant serve: " << e.what() << "\n" << desc << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }

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
  SetupServeLogging(cfg->log_name, cfg->log_level, vm.count("verbose"));

  // Signals are taken by one thread with sigwait; every other thread blocks them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  receiver::Server server(*cfg, *swift);
  receiver::RegisterReplicationHandlers(server);
  if (auto st = server.Listen(); !st.ok()) {
    std::cerr << "replicant serve: " << st.message() << "\n";
    return 1;
  }
  spdlog::info("replicant serve listening on {}:{} (devices {}, mount_check {}, "
               "replication_concurrency {}, per device {})",
               cfg->bind_ip, server.port(), cfg->devices, cfg->mount_check,
               cfg->replication_concurrency, cfg->replication_concurrency_per_device);

  std::thread watcher([&] {
    for (;;) {
      int signo = 0;
      if (sigwait(&set, &signo) != 0) continue;
      if (signo == SIGHUP) {
        spdlog::info("SIGHUP ignored: restart replicant serve to apply a new configuration");
        continue;
      }
      spdlog::info("Signal {}: no new connections; finishing the requests in flight", signo);
      server.Stop();
      return;
    }
  });
  server.Run();
  watcher.join();
  spdlog::info("replicant serve exiting");
  return 0;
}

}  // namespace replicant::cli
