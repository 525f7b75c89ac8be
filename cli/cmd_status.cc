// `replicant status`: the replicator's live progress, from the progress file it writes
// (or a `replicant serve`'s GET /progress), as a terminal view or one JSON document.
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include <boost/program_options.hpp>
#include <curl/curl.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "replicator/progress.h"
#include "replicator/replicator_config.h"
#include "cli/status_view.h"

namespace po = boost::program_options;

namespace replicant::cli {
namespace {

volatile sig_atomic_t g_interrupted = 0;

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Result<nlohmann::json> FetchProgress(const std::string& url) {
  CURL* curl = curl_easy_init();
  if (!curl) return Status::IOError("curl_easy_init failed");
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return Status::Unavailable(url + ": " + curl_easy_strerror(rc));
  if (code != 200) return Status::Unavailable(url + ": HTTP " + std::to_string(code) + " " + body);
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Status::Corruption(url + ": not a JSON object");
  return doc;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int TerminalWidth() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 100;
}

}  // namespace

int RunStatus(int argc, char** argv) {
  po::options_description desc(
      "usage: replicant status [CONFIG] [--json] [--once] [--file PATH | --url URL]\n"
      "Shows the replicator's live progress per device (rate, ETA) and its last pass, from\n"
      "<recon_cache_path>/replicant-progress.json of CONFIG ([object-replicator]; default\n"
      "/etc/swift/object-server.conf), or from a replicant serve's /progress URL.\noptions");
  std::string conf_path = "/etc/swift/object-server.conf", file, url;
  double interval = 1;
  desc.add_options()("help,h", "show this help")("json", "print one JSON document and exit")(
      "once", "draw once and exit")("file", po::value(&file), "the progress file to read")(
      "url", po::value(&url), "a replicant serve's progress URL (http://HOST:PORT/progress)")(
      "interval", po::value(&interval), "seconds between redraws (default 1)");
  po::variables_map vm;
  if (int rc = ParseCommandLine("status", argc, argv, desc, &conf_path, &vm); rc >= 0) return rc;
  if (file.empty() && url.empty()) {
    auto cfg = LoadReplicatorConfig(conf_path);
    if (!cfg.ok()) {
      std::cerr << "replicant status: " << cfg.status().message() << "\n";
      return 1;
    }
    file = ProgressFilePath(cfg->recon_cache_path);
  }
  auto load = [&]() { return url.empty() ? ReadProgressFile(file) : FetchProgress(url); };
  bool json = vm.count("json"), once = vm.count("once") || json;
  if (!once) signal(SIGINT, [](int) { g_interrupted = 1; });
  for (;;) {
    auto doc = load();
    if (!doc.ok()) {
      std::cerr << "replicant status: " << doc.status().message() << "\n";
      if (once) return 1;
    } else {
      nlohmann::json st = StatusJson(*doc, Now());
      if (json) {
        std::cout << st.dump(2) << "\n";
        return 0;
      }
      // Home + clear: redraw in place, like top.
      if (!once) std::cout << "\x1b[H\x1b[2J";
      std::cout << RenderStatus(st, TerminalWidth()) << std::flush;
      if (once) return 0;
    }
    for (double t = 0; t < interval && !g_interrupted; t += 0.1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (g_interrupted) return 0;
  }
}

}  // namespace replicant::cli
