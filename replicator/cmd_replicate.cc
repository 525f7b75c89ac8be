// `replicant replicate`: the object replicator daemon (forever or --once).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "formats/config.h"
#include "formats/swift_conf.h"
#include "replicator/backend_factory.h"
#include "replicator/cli_args.h"
#include "replicator/commands.h"
#include "replicator/log_setup.h"
#include "replicator/process_options.h"
#include "replicator/replicator.h"
#include "replicator/replicator_ops.h"
#include "replicator/worker_parent.h"

namespace po = boost::program_options;

namespace replicant::cli {
namespace {

// Signals are taken synchronously by one thread (sigwait), so handlers never run
// inside worker threads.
struct SignalState {
  std::mutex mu;
  std::condition_variable cv;
  bool terminate = false;
  bool reload = false;
  bool finished = false;  // the main loop has left its last pass
};

struct Loaded {
  ReplicatorConfig cfg;
  std::unique_ptr<Replicator> replicator;
  std::unique_ptr<ReplicatorOps> ops;
};

// Everything a config needs to run: swift.conf, the backend, the rings, the ops hooks.
Result<Loaded> Build(const ReplicatorConfig& cfg) {
  auto swift = LoadSwiftConf(cfg.swift_dir);
  if (!swift.ok()) return swift.status();
  sync::Throttle throttle = MakeThrottle(cfg);
  auto backend = MakeSyncBackend(cfg, throttle);
  if (!backend.ok()) return backend.status();
  auto r = std::make_unique<Replicator>(cfg, *swift, *backend, throttle);
  if (auto st = r->LoadRings(); !st.ok()) return st;
  auto ops = ReplicatorOps::Create(cfg);
  if (!ops.ok()) return ops.status();
  r->SetObserver((*ops)->observer());
  return Loaded{cfg, std::move(r), std::move(*ops)};
}

Result<Loaded> Load(const std::string& conf_path, std::optional<int> worker_index) {
  auto cfg = LoadReplicatorConfig(conf_path);
  if (!cfg.ok()) return cfg.status();
  cfg->worker_index = worker_index;
  return Build(*cfg);
}

// Sets *to_syslog when the lines go to syslog (log_to_syslog).
Status SetupReplicatorLogging(const ReplicatorConfig& cfg, bool console, bool* to_syslog) {
  auto file = ConfigFile::Load(cfg.config_path);
  if (!file.ok()) return file.status();
  auto sec = file->Section("object-replicator");
  if (!sec.ok()) return sec.status();
  auto opts = LogOptionsFromSection(*sec, cfg.log_name);
  if (!opts.ok()) return opts.status();
  *to_syslog = opts->to_syslog;
  return SetupLogging(*opts, {.debug = false, .console = console});
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

}  // namespace

int RunReplicate(int argc, char** argv) {
  po::options_description desc(
      "usage: replicant replicate [CONFIG] [once] [verbose] [-o] [-d DEVS] [-p PARTS]\n"
      "                           [-i POLICIES] [-v]\n"
      "Runs Swift's object replication for this node's devices. CONFIG is a Swift\n"
      "object-server.conf ([DEFAULT] + [object-replicator]); default\n"
      "/etc/swift/object-server.conf. Takes swift-object-replicator's arguments, as\n"
      "swift-init passes them ('once' and 'verbose' as words too).\noptions");
  std::string conf_path = "/etc/swift/object-server.conf", devs, parts, policies;
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
  if (int rc = ParseCommandLine("replicate", argc, argv, desc, &conf_path, &vm, &words); rc >= 0) {
    return rc;
  }
  bool once = vm.count("once"), verbose = vm.count("verbose");
  // Swift's parse_options: a word naming an option sets it; others are extra_args,
  // which the replicator ignores.
  for (const auto& w : words) {
    if (w == "once") once = true;
    else if (w == "verbose") verbose = true;
    else std::cerr << "replicant replicate: ignoring extra argument '" << w << "'\n";
  }
  PassOverrides overrides;
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
  const std::optional<int> worker =
      vm.count("worker-index") ? std::optional<int>(vm["worker-index"].as<int>()) : std::nullopt;
  // A worker's recon: its devices' per-disk entries, unless the parent had overrides.
  const bool publish_recon = worker ? !vm.count("worker-overrides") : !overrides.any();
  if (overrides.any() && !once && !worker) {
    // Swift's replicator ignores them outside run_once; so do we, but say so.
    std::cerr << "replicant replicate: -d/-p/-i only apply with once; ignored\n";
    overrides = PassOverrides();
  }

  // Daemon mode takes signals with sigwait in one thread: block them before Load()
  // starts any thread (the progress flusher), so every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (!once) pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto cfg = LoadReplicatorConfig(conf_path);
  if (!cfg.ok()) {
    std::cerr << "replicant replicate: " << cfg.status().message() << "\n";
    return 1;
  }
  bool to_syslog = false;
  if (auto st = SetupReplicatorLogging(*cfg, verbose, &to_syslog); !st.ok()) {
    std::cerr << "replicant replicate: " << st.message() << "\n";
    return 1;
  }
  cfg->worker_index = worker;
  if (!worker) {
    for (const auto& w : cfg->warnings) spdlog::warn("{}", w);
  }
  // Before any thread starts (they inherit the priorities), as Swift before its run.
  ModifyPriority(cfg->process);
  if (auto st = DropPrivileges(cfg->process); !st.ok()) {
    spdlog::error("{}", st.message());
    return 1;
  }
  if (cfg->replicator_workers > 0 && !worker) {
    int rc = RunWorkerParent(*cfg, {conf_path, once, verbose, overrides});
    if (rc >= 0) return rc;
  }
  auto loaded = Build(*cfg);
  if (!loaded.ok()) {
    std::cerr << "replicant replicate: " << loaded.status().message() << "\n";
    return 1;
  }
  // Without syslog, stderr is the log (systemd's journal): it stays.
  if (!once && !verbose && to_syslog) DetachStdio();

  if (once) {
    spdlog::info("Running object replicator in script mode.");
    loaded->ops->PassStarting();
    PassSummary s = loaded->replicator->RunPass(overrides);
    spdlog::info("Object replication complete (once). ({:.2f} minutes)", s.seconds / 60.0);
    // As in Swift, a pass limited by -d/-p/-i does not publish recon stats.
    loaded->ops->PassFinished(s, publish_recon);
    return s.aborted ? 1 : 0;
  }

  SignalState sig;
  Replicator* current = loaded->replicator.get();
  ReplicatorOps* current_ops = loaded->ops.get();
  std::mutex current_mu;
  // After SIGTERM/SIGINT the jobs in flight get stop_timeout seconds to finish; a job
  // stuck on a silent peer (up to http_timeout or rsync_timeout) must not hold the stop
  // for minutes. Exiting under it is safe: receivers commit by rename and a handoff is
  // removed only after its syncs were confirmed. A second signal exits at once.
  auto exit_now = [&](const char* why) {
    spdlog::warn("{}: exiting with jobs in flight (their partitions are retried next pass)",
                 why);
    {
      std::lock_guard<std::mutex> cl(current_mu);
      current_ops->Exited();
    }
    spdlog::shutdown();  // flushes the sinks
    _exit(0);
  };
  std::thread watcher([&] {
    double grace = 0;
    for (;;) {
      int signo = 0;
      if (sigwait(&set, &signo) != 0) continue;
      std::lock_guard<std::mutex> l(sig.mu);
      if (signo == SIGHUP) {
        sig.reload = true;
        spdlog::info("SIGHUP: configuration will be reloaded before the next pass");
        sig.cv.notify_all();
        continue;
      }
      sig.terminate = true;
      {
        std::lock_guard<std::mutex> cl(current_mu);
        grace = loaded->cfg.stop_timeout;
        spdlog::info("Signal {}: finishing the jobs in flight (at most {}s) and exiting", signo,
                     grace);
        current_ops->Stopping();
        current->Stop();
      }
      sig.cv.notify_all();
      break;
    }
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(grace));
    for (;;) {
      {
        std::lock_guard<std::mutex> l(sig.mu);
        if (sig.finished) return;
      }
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) exit_now("stop_timeout reached");
      auto slice = std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(100));
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slice).count();
      timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      int signo = sigtimedwait(&set, nullptr, &ts);
      if (signo == SIGTERM || signo == SIGINT) exit_now("second stop signal");
    }
  });

  spdlog::info("Starting object replicator in daemon mode.");
  loaded->ops->Ready("daemon mode");
  for (;;) {
    spdlog::info("Starting object replication pass.");
    loaded->ops->PassStarting();
    PassSummary s = loaded->replicator->RunPass(overrides);  // a worker's -d
    spdlog::info("Object replication complete. ({:.2f} minutes)", s.seconds / 60.0);
    loaded->ops->PassFinished(s, publish_recon);
    std::unique_lock<std::mutex> l(sig.mu);
    loaded->ops->IdleWait(loaded->cfg.interval, [&](double step) {
      return sig.cv.wait_for(l, std::chrono::duration<double>(step),
                             [&] { return sig.terminate || sig.reload; });
    });
    if (sig.terminate) {
      sig.finished = true;
      break;
    }
    if (sig.reload) {
      sig.reload = false;
      l.unlock();
      auto fresh = Load(conf_path, worker);
      if (!fresh.ok()) {
        spdlog::error("Reload failed, keeping the running configuration: {}",
                      fresh.status().message());
      } else {
        std::lock_guard<std::mutex> cl(current_mu);
        *loaded = std::move(*fresh);
        current = loaded->replicator.get();
        current_ops = loaded->ops.get();
        spdlog::info("Configuration reloaded from {}", conf_path);
        for (const auto& w : loaded->cfg.warnings) spdlog::warn("{}", w);
      }
    }
  }
  watcher.join();
  loaded->ops->Exited();
  spdlog::info("Object replicator exiting.");
  return 0;
}

}  // namespace replicant::cli
