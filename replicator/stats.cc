#include "replicator/stats.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace replicant {

void ReplicationStats::Add(const ReplicationStats& o) {
  attempted += o.attempted;
  failure += o.failure;
  hashmatch += o.hashmatch;
  remove += o.remove;
  rsync += o.rsync;
  success += o.success;
  suffix_count += o.suffix_count;
  suffix_hash += o.suffix_hash;
  suffix_sync += o.suffix_sync;
  files_sent += o.files_sent;
  bytes_sent += o.bytes_sent;
  lockups += o.lockups;
  for (const auto& [ip, devs] : o.failure_nodes)
    for (const auto& [dev, n] : devs) failure_nodes[ip][dev] += n;
}

void ReplicationStats::AddFailures(const std::set<std::pair<std::string, std::string>>& nodes) {
  failure += static_cast<int64_t>(nodes.size());
  for (const auto& [ip, dev] : nodes) failure_nodes[ip][dev] += 1;
}

nlohmann::json ReplicationStats::ToRecon() const {
  nlohmann::json failures = nlohmann::json::object();
  for (const auto& [ip, devs] : failure_nodes) {
    for (const auto& [dev, n] : devs) failures[ip][dev] = n;
  }
  return {{"attempted", attempted}, {"failure", failure},         {"hashmatch", hashmatch},
          {"remove", remove},       {"rsync", rsync},             {"success", success},
          {"suffix_count", suffix_count}, {"suffix_hash", suffix_hash},
          {"suffix_sync", suffix_sync},   {"failure_nodes", failures}};
}

nlohmann::json ReplicationStats::ToProgress() const {
  nlohmann::json j = ToRecon();
  j["files_sent"] = files_sent;
  j["bytes_sent"] = bytes_sent;
  j["lockups"] = lockups;
  return j;
}

ReplicationStats StatsBook::Total() const {
  std::lock_guard<std::mutex> l(mu_);
  ReplicationStats total;
  for (const auto& [dev, s] : per_device_) total.Add(s);
  return total;
}

std::map<std::string, ReplicationStats> StatsBook::PerDevice() const {
  std::lock_guard<std::mutex> l(mu_);
  return per_device_;
}

namespace {

// The first line of a recon file as a JSON object ({} when it is not one).
nlohmann::json ParseRecon(const std::string& text) {
  std::string first_line = text.substr(0, text.find('\n'));
  if (!first_line.empty()) {
    auto parsed = nlohmann::json::parse(first_line, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_object()) return parsed;
  }
  return nlohmann::json::object();
}

}  // namespace

nlohmann::json LoadReconCache(const std::string& cache_file) {
  std::ifstream in(cache_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseRecon(text);
}

namespace {

// Opens cache_file and takes its flock, within Swift's 2 s recon lock_timeout. The file is
// replaced by rename on every dump, so a lock taken on an inode that has since been renamed
// over protects nothing (its holder would merge into stale content and lose the other
// writer's update): such an fd is dropped and the new file locked instead.
Status LockReconFile(const std::string& cache_file, int* out_fd) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    int fd = open(cache_file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("open " + cache_file, errno);
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        int e = errno;
        close(fd);
        return Status::FromErrno("flock " + cache_file, e);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        close(fd);
        return Status::Unavailable("timed out locking " + cache_file);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    struct stat held, named;
    if (fstat(fd, &held) == 0 && stat(cache_file.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      *out_fd = fd;
      return Status::OK();
    }
    close(fd);  // renamed over while we waited: lock the file that is there now
  }
}

}  // namespace

Status DumpReconCache(const nlohmann::json& update, const std::string& cache_file) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cache_file).parent_path(), ec);
  int fd = -1;
  if (Status st = LockReconFile(cache_file, &fd); !st.ok()) return st;
  std::string existing;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) existing.append(buf, static_cast<size_t>(n));
  nlohmann::json entry = ParseRecon(existing);
  for (const auto& [key, value] : update.items()) {
    if (value.is_object()) {
      if (value.empty()) { entry.erase(key); continue; }
      if (!entry.contains(key) || !entry[key].is_object()) entry[key] = nlohmann::json::object();
      for (const auto& [k, v] : value.items()) {
        if (v.is_object() && v.empty()) entry[key].erase(k);
        else entry[key][k] = v;
      }
    } else {
      entry[key] = value;
    }
  }
  std::string tmp = cache_file + ".tmp." + std::to_string(getpid());
  Status st;
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << entry.dump(-1, ' ', true) << "\n";
    out.close();
    if (!out) st = Status::IOError("write " + tmp);
  }
  if (st.ok() && rename(tmp.c_str(), cache_file.c_str()) != 0) {
    st = Status::FromErrno("rename " + tmp, errno);
  }
  if (!st.ok()) unlink(tmp.c_str());
  close(fd);
  return st;
}

}  // namespace replicant
