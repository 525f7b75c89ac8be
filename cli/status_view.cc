#include "cli/status_view.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

namespace replicant {
namespace {

double Num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}

std::string Clock(double unix_time) {
  time_t t = static_cast<time_t>(unix_time);
  tm tmv{};
  localtime_r(&t, &tmv);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tmv);
  return buf;
}

}  // namespace

std::string FormatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  auto secs = static_cast<int64_t>(std::llround(s));
  if (secs >= 3600) return fmt::format("{}h{:02}m", secs / 3600, (secs % 3600) / 60);
  if (secs >= 60) return fmt::format("{}m{:02}s", secs / 60, secs % 60);
  return fmt::format("{}s", secs);
}

nlohmann::json StatusJson(const nlohmann::json& progress, double now) {
  nlohmann::json out = progress;
  out["age_seconds"] = std::max(0.0, now - Num(progress, "updated"));
  bool running = progress.contains("pass") && progress["pass"].is_object();
  if (!out.contains("devices") || !out["devices"].is_object()) out["devices"] = nlohmann::json::object();
  for (auto& [dev, d] : out["devices"].items()) {
    double total = Num(d, "partitions_total"), done = Num(d, "partitions_done");
    double elapsed = (running ? now : Num(d, "last_update")) - Num(d, "pass_start");
    d["percent"] = total > 0 ? std::min(100.0, done * 100.0 / total) : 100.0;
    double rate = elapsed > 0 ? done / elapsed : 0;
    d["rate"] = rate;
    if (done >= total) d["eta_seconds"] = 0;
    else if (rate > 0) d["eta_seconds"] = (total - done) / rate;
    else d["eta_seconds"] = nullptr;
  }
  if (out.contains("priority") && out["priority"].is_object()) {
    auto& p = out["priority"];
    double total = Num(p, "jobs_total"), handled = Num(p, "jobs_done") + Num(p, "jobs_failed");
    double elapsed = now - Num(p, "start");
    p["percent"] = total > 0 ? std::min(100.0, handled * 100.0 / total) : 100.0;
    if (!p.value("running", false) || handled >= total) p["eta_seconds"] = 0;
    else if (handled > 0 && elapsed > 0) p["eta_seconds"] = (total - handled) * elapsed / handled;
    else p["eta_seconds"] = nullptr;
  }
  return out;
}

std::string RenderStatus(const nlohmann::json& st, int width) {
  std::string out;
  bool running = st.contains("pass") && st["pass"].is_object();
  out += fmt::format("replicant replicator (pid {}): {}, sync_method {}, updated {} ago\n",
                     st.value("pid", 0), st.value("state", std::string("?")),
                     st.value("sync_method", std::string("?")),
                     FormatDuration(Num(st, "age_seconds")));
  if (running) {
    const auto& p = st["pass"];
    out += fmt::format("pass {} started {} ({} ago): {}/{} partitions\n",
                       p.value("number", 0), Clock(Num(p, "start")),
                       FormatDuration(Num(st, "updated") - Num(p, "start") + Num(st, "age_seconds")),
                       p.value("partitions_done", 0), p.value("partitions_total", 0));
  }
  const auto& devices = st.contains("devices") ? st["devices"] : nlohmann::json::object();
  size_t name_w = 6;
  for (const auto& [dev, d] : devices.items()) name_w = std::max(name_w, dev.size());
  // name, bar, "100.0%", counts, rate, ETA.
  int bar_w = std::clamp(width - static_cast<int>(name_w) - 48, 10, 60);
  for (const auto& [dev, d] : devices.items()) {
    double pct = Num(d, "percent");
    int filled = static_cast<int>(std::lround(pct / 100.0 * bar_w));
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(static_cast<size_t>(bar_w), '.');
    std::string eta = d.contains("eta_seconds") && d["eta_seconds"].is_number()
                          ? FormatDuration(d["eta_seconds"].get<double>())
                          : "?";
    out += fmt::format("{:<{}} [{}] {:5.1f}% {:>6}/{:<6} {:7.2f}/s ETA {}\n", dev, name_w, bar,
                       pct, d.value("partitions_done", 0), d.value("partitions_total", 0),
                       Num(d, "rate"), eta);
  }
  if (devices.empty()) out += "(no devices in the current pass)\n";
  if (st.contains("failures_by_peer") && st["failures_by_peer"].is_object()) {
    for (const auto& [ip, devs] : st["failures_by_peer"].items()) {
      for (const auto& [dev, n] : devs.items()) {
        out += fmt::format("failures to {}/{}: {}\n", ip, dev, n.dump());
      }
    }
  }
  if (st.contains("priority") && st["priority"].is_object()) {
    const auto& p = st["priority"];
    bool run = p.value("running", false);
    std::string eta = p.contains("eta_seconds") && p["eta_seconds"].is_number()
                          ? FormatDuration(p["eta_seconds"].get<double>())
                          : "?";
    out += fmt::format("priority jobs ({}): {}/{} ({:.1f}%), {} done, {} failed, {} bytes{}; "
                       "since start-up {} done, {} failed, {} bytes\n",
                       run ? "running" : "last run", Num(p, "jobs_done") + Num(p, "jobs_failed"),
                       Num(p, "jobs_total"), Num(p, "percent"), Num(p, "jobs_done"),
                       Num(p, "jobs_failed"), Num(p, "bytes"), run ? ", ETA " + eta : "",
                       Num(p, "done_all"), Num(p, "failed_all"), Num(p, "bytes_all"));
  }
  if (st.contains("last_pass") && st["last_pass"].is_object()) {
    const auto& l = st["last_pass"];
    const auto& s = l.contains("stats") ? l["stats"] : nlohmann::json::object();
    out += fmt::format(
        "last pass {} {} at {} in {}: {} partitions, attempted {}, success {}, failure {}, "
        "hashmatch {}, syncs {}, suffixes synced {}, handoffs removed {}, remaining {}\n",
        l.value("number", 0), l.value("aborted", false) ? "aborted" : "completed",
        Clock(Num(l, "end")), FormatDuration(Num(l, "seconds")), l.value("partitions", 0),
        s.value("attempted", 0), s.value("success", 0), s.value("failure", 0),
        s.value("hashmatch", 0), s.value("rsync", 0), s.value("suffix_sync", 0),
        s.value("remove", 0), l.value("handoffs_remaining", 0));
  } else {
    out += "no pass has finished yet\n";
  }
  return out;
}

}  // namespace replicant
