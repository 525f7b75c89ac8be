#include "sync_backends/rsync/rsync_backend.h"
#include "diskfile/layout.h"

#include "base/text.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

extern char** environ;

namespace replicant::sync {
namespace {

bool IsIPv6(const std::string& ip) {
  in6_addr a;
  return inet_pton(AF_INET6, ip.c_str(), &a) == 1;
}

std::string RsyncIp(const std::string& ip) { return IsIPv6(ip) ? "[" + ip + "]" : ip; }

// Locates the binary on PATH (or takes an absolute/relative path as is).
bool FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string Limit(const std::string& line, size_t max) {
  return max ? line.substr(0, max) : line;
}

std::string Join(const std::vector<std::string>& args) {
  std::string out = "[";
  for (size_t i = 0; i < args.size(); ++i) out += (i ? ", '" : "'") + args[i] + "'";
  return out + "]";
}

// Appends what `fd` gives to *out until EOF; false when `deadline` passed first.
bool ReadUntil(int fd, std::chrono::steady_clock::time_point deadline, std::string* out) {
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

// rsync's --bwlimit syntax as bytes per second (0 = no limit); nullopt when rsync
// would reject it (or it uses rsync's rarer forms, e.g. "+1"/"-1" adjustments).
std::optional<double> ParseBwlimit(const std::string& v) {
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
  if (i == 0) return std::nullopt;
  char* end = nullptr;
  std::string num = v.substr(0, i);
  double n = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size()) return std::nullopt;
  std::string unit = LowerAscii(v.substr(i));
  double base = 1024;
  if (unit.size() == 3 && unit.substr(1) == "ib") unit.resize(1);
  else if (unit.size() == 2 && unit[1] == 'b') { base = 1000; unit.resize(1); }
  static const std::string kUnits = "kmgt";
  if (unit.empty()) return n * 1024;
  size_t power = kUnits.find(unit);
  if (unit.size() != 1 || power == std::string::npos) return std::nullopt;
  return n * std::pow(base, static_cast<double>(power + 1));
}

}  // namespace

std::string EffectiveBwlimit(const std::string& rsync_bwlimit, double bytes_per_second,
                             int processes) {
  if (!(bytes_per_second > 0)) return rsync_bwlimit;
  auto own = ParseBwlimit(rsync_bwlimit);
  if (!own) return rsync_bwlimit;
  double share = bytes_per_second / std::max(1, processes);
  if (*own > 0 && *own <= share) return rsync_bwlimit;
  return std::to_string(std::max<uint64_t>(1, static_cast<uint64_t>(share / 1024)));
}

Result<std::string> InterpolateRsyncModule(const std::string& tmpl, const Device& dev) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c == '{' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') { out += '{'; ++i; continue; }
    if (c == '}' && i + 1 < tmpl.size() && tmpl[i + 1] == '}') { out += '}'; ++i; continue; }
    if (c == '}') return Status::InvalidArgument("rsync_module: single '}' in '" + tmpl + "'");
    if (c != '{') { out += c; continue; }
    size_t close = tmpl.find('}', i);
    if (close == std::string::npos) {
      return Status::InvalidArgument("rsync_module: unclosed '{' in '" + tmpl + "'");
    }
    std::string name = tmpl.substr(i + 1, close - i - 1);
    if (name == "ip") out += RsyncIp(dev.ip);
    else if (name == "port") out += std::to_string(dev.port);
    else if (name == "replication_ip") out += RsyncIp(dev.replication_ip);
    else if (name == "replication_port") out += std::to_string(dev.replication_port);
    else if (name == "region") out += std::to_string(dev.region);
    else if (name == "zone") out += std::to_string(dev.zone);
    else if (name == "device") out += dev.device;
    else if (name == "meta") out += dev.meta;
    else {
      return Status::InvalidArgument(
          "Cannot interpolate rsync_module, invalid variable: '" + name + "'");
    }
    i = close;
  }
  return out;
}

bool IsRsyncDaemonDestination(const std::string& dest) {
  if (dest.rfind("rsync://", 0) == 0) return true;
  size_t host_end = 0;
  if (!dest.empty() && dest[0] == '[') {
    host_end = dest.find(']');
    if (host_end == std::string::npos) return false;
    ++host_end;
  } else {
    host_end = dest.find(':');
    if (host_end == std::string::npos) return false;  // a local path
  }
  return dest.compare(host_end, 2, "::") == 0;
}

std::vector<std::string> BuildRsyncArgs(const RsyncOptions& opts, const Device& node,
                                        const SyncJob& job, const std::string& module,
                                        const std::vector<std::string>& suffix_paths) {
  std::vector<std::string> args = {
      opts.rsync_binary, "--recursive", "--whole-file", "--human-readable", "--xattrs",
      "--itemize-changes", "--ignore-existing",
      "--timeout=" + opts.io_timeout, "--contimeout=" + opts.io_timeout,
      "--bwlimit=" + opts.bwlimit,
      // Swift's exclusion of rsync's own in-flight temp files (.name.XXXXXX).
      "--exclude=.*.[0-9a-zA-Z][0-9a-zA-Z][0-9a-zA-Z][0-9a-zA-Z][0-9a-zA-Z][0-9a-zA-Z]"};
  if (opts.compress && job.region != node.region) args.push_back("--compress");
  if (opts.tcp_nodelay && IsRsyncDaemonDestination(module)) {
    args.push_back("--sockopts=TCP_NODELAY");
  }
  args.insert(args.end(), suffix_paths.begin(), suffix_paths.end());
  args.push_back(diskfile::PartitionDirOn(diskfile::DevicePath(module, node.device),
                                          job.policy_index, job.partition));
  return args;
}

Result<std::unique_ptr<RsyncBackend>> RsyncBackend::Create(RsyncOptions opts) {
  if (!FindExecutable(opts.rsync_binary)) {
    return Status::NotFound("sync_method = rsync, but the rsync binary '" + opts.rsync_binary +
                            "' was not found on PATH (install Debian's rsync package)");
  }
  Device probe;
  if (auto m = InterpolateRsyncModule(opts.module_template, probe); !m.ok()) return m.status();
  return std::unique_ptr<RsyncBackend>(new RsyncBackend(std::move(opts)));
}

SyncResult RsyncBackend::SyncPeer(const SyncJob& job, const PeerSync& peer) {
  const Device& node = peer.node;
  SyncResult result;
  if (peer.check_objs) {
    // Swift ignores remote_check_objs with rsync; a check that cannot be made
    // confirms nothing, so nothing is deleted on its word.
    result.status = Status::InvalidArgument("the rsync backend cannot check objects");
    return result;
  }
  std::error_code ec;
  if (!std::filesystem::exists(job.path, ec)) {
    result.status = Status::NotFound(job.path + " is gone");
    return result;
  }
  auto module = InterpolateRsyncModule(opts_.module_template, node);
  if (!module.ok()) {
    result.status = module.status();
    return result;
  }
  std::string where = fmt::format("{}/{} partition {} -> {}:{}/{}", job.device,
                                  job.policy_index, job.partition, node.replication_ip,
                                  node.replication_port, node.device);
  // A file replaced while rsync sends it (a newer PUT, a DELETE) can land on the peer with
  // an empty user.swift.metadata: rsync's sender re-reads a long xattr by name after
  // opening the file and sends an empty value when the name is gone. One more run sends
  // the newer file, and the peer's full rehash (peer_cleanup_needed) removes the old one.
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> paths;
    for (const auto& s : peer.suffixes) {
      std::string p = job.path + "/" + s;
      if (std::filesystem::exists(p, ec)) paths.push_back(p);
    }
    if (paths.empty()) {
      result.status = Status::NotFound("none of the suffixes is left in " + job.path);
      return result;
    }
    bool source_changed = false;
    result.status = RunRsync(BuildRsyncArgs(opts_, node, job, *module, paths), where, job.path,
                             &result, &source_changed);
    result.peer_cleanup_needed |= source_changed;
    if (result.status.ok() || !source_changed || attempt > 0) break;
    spdlog::warn("rsync of {}: a file changed while it ran; running it again ({})", where,
                 result.status.message());
  }
  // After the fact: the files are sent, so a cancelled throttle changes nothing here.
  (void)opts_.throttle.Files(result.files_sent);
  return result;
}

// rsync's --itemize-changes output: counts the files sent (and their sizes, from the
// local copies under `base`) and logs the transfers; returns the other lines (rsync's
// own messages) for a failure's status.
std::string RsyncBackend::ReportOutput(const std::string& output, int ret,
                                       const std::string& base, SyncResult* counts) const {
  std::string messages;
  size_t pos = 0;
  while (pos < output.size()) {
    size_t nl = output.find('\n', pos);
    if (nl == std::string::npos) nl = output.size();
    std::string line = output.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line.rfind("cd+", 0) == 0) continue;
    // "<f+++++++++ abc/<hash>/<ts>.data": a file sent, named relative to the partition.
    if (counts && line.rfind("<f", 0) == 0 && line.size() > 12 && line[11] == ' ') {
      counts->files_sent++;
      struct stat st;
      std::string local = base + "/" + line.substr(12);
      if (stat(local.c_str(), &st) == 0) counts->bytes_sent += static_cast<uint64_t>(st.st_size);
    }
    if (line[0] == '<') {
      if (opts_.log_transfers) spdlog::debug("{}", line);
    } else if (ret == 0) {
      spdlog::debug("{}", line);
    } else {
      messages += (messages.empty() ? "" : " | ") + line;
    }
  }
  return messages;
}

Status RsyncBackend::RunRsync(const std::vector<std::string>& args, const std::string& where,
                              const std::string& base, SyncResult* counts,
                              bool* source_changed) const {
  auto start = std::chrono::steady_clock::now();
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return Status::FromErrno("rsync " + where + ": pipe", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    return Status::FromErrno(fmt::format("rsync {}: cannot run {}", where, args[0]), rc);
  }
  std::string output;
  bool timed_out = !ReadUntil(pipefd[0], start + std::chrono::seconds(opts_.timeout_seconds),
                              &output);
  close(pipefd[0]);
  int status = 0;
  if (timed_out) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return Status::Unavailable(Limit(fmt::format("Killing long-running rsync after {}s: {} ({})",
                                                 opts_.timeout_seconds, Join(args), where),
                                     opts_.error_log_line_length));
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  int ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string messages = ReportOutput(output, ret, base, counts);
  if (ret != 0) {
    // rsync's words for a source file that changed or went while it ran (exit 23 or 24)
    *source_changed = ret == 24 || output.find("failed to re-read xattr") != std::string::npos ||
                      output.find("file has vanished") != std::string::npos;
    std::string msg = fmt::format("Bad rsync return code: {} <- {} ({})", ret, Join(args), where);
    if (!messages.empty()) msg += ": " + messages;
    return Status::IOError(Limit(msg, opts_.error_log_line_length));
  }
  const std::string& src = args[args.size() - 2];
  std::string msg = fmt::format("Successful rsync of {}... to {} ({:.3f})",
                                src.substr(0, src.size() >= 3 ? src.size() - 3 : 0),
                                args.back(), secs);
  if (!output.empty()) spdlog::info("{}", msg);
  else spdlog::debug("{}", msg);
  return Status::OK();
}

}  // namespace replicant::sync
