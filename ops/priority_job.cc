#include "ops/priority_job.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "diskfile/fs_util.h"
#include "formats/pystr.h"
#include "formats/py_text.h"

namespace replicant::ops {
namespace fs = diskfile::fs;
using nlohmann::json;

namespace {

Status Bad(std::string msg) { return Status::InvalidArgument(std::move(msg)); }

// An integer in [lo, hi]; JSON floats, bools and strings are refused.
Result<int64_t> IntField(const json& v, const char* name, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) return Bad(fmt::format("{} must be an integer", name));
  // nlohmann parses non-negative numbers as unsigned: compare them as such.
  bool out = v.is_number_unsigned()
                 ? v.get<uint64_t>() > static_cast<uint64_t>(hi) ||
                       (lo > 0 && v.get<uint64_t>() < static_cast<uint64_t>(lo))
                 : v.get<int64_t>() < lo || v.get<int64_t>() > hi;
  if (out) {
    return Bad(fmt::format("{} out of range [{}, {}]", name, lo, hi));
  }
  return v.get<int64_t>();
}

Result<std::string> DeviceField(const json& v, const char* name) {
  if (!v.is_string()) return Bad(fmt::format("{} must be a string", name));
  std::string s = v.get<std::string>();
  if (!SafeDeviceName(s)) return Bad(fmt::format("{}: invalid device name {}", name, py::Quote(s)));
  return s;
}

// A replication ip as Swift's rings hold them: an IPv4 or IPv6 literal.
bool PlausibleIp(std::string_view ip) {
  if (ip.empty() || ip.size() > 45) return false;
  return std::all_of(ip.begin(), ip.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':';
  });
}

Result<PriorityTarget> ParseTarget(const json& t) {
  PriorityTarget out;
  if (t.is_number_integer()) {
    auto id = IntField(t, "to_devices id", 0, 65535);
    if (!id.ok()) return id.status();
    out.id = static_cast<int>(*id);
    return out;
  }
  if (!t.is_object()) return Bad("to_devices entries must be device ids or objects");
  const char* ip_key = t.contains("replication_ip") ? "replication_ip" : "ip";
  const char* port_key = t.contains("replication_port") ? "replication_port" : "port";
  if (!t.contains(ip_key) || !t[ip_key].is_string() || !PlausibleIp(t[ip_key].get<std::string>())) {
    return Bad(fmt::format("to_devices: {} must be an IP address string", ip_key));
  }
  out.ip = t[ip_key].get<std::string>();
  if (!t.contains(port_key)) return Bad(fmt::format("to_devices: {} missing", port_key));
  auto port = IntField(t[port_key], port_key, 1, 65535);
  if (!port.ok()) return port.status().WithContext("to_devices");
  out.port = static_cast<int>(*port);
  if (!t.contains("device")) return Bad("to_devices: device missing");
  auto dev = DeviceField(t["device"], "to_devices device");
  if (!dev.ok()) return dev.status();
  out.device = *dev;
  return out;
}

json TargetJson(const PriorityTarget& t) {
  if (t.id) return *t.id;
  return json{{"ip", t.ip}, {"port", t.port}, {"device", t.device}};
}

int WriteDurably(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int err = fs::WriteAll(fd, text);
  if (err == 0 && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    unlink(tmp.c_str());
    return err;
  }
  fs::FsyncDir(fs::Dirname(path));
  return 0;
}

}  // namespace

std::string PriorityTarget::ToString() const {
  if (id) return fmt::format("id {}", *id);
  return fmt::format("{}:{}/{}", ip, port, device);
}

bool SafeDeviceName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return false;
  }
  return pystr::IsStrictUtf8(name);
}

Result<PriorityJob> ParsePriorityJob(std::string_view text, bool stored) {
  if (text.size() > kMaxPriorityBody) {
    return Bad(fmt::format("job body over {} bytes", kMaxPriorityBody));
  }
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Bad("job body is not valid JSON");
  if (!doc.is_object()) return Bad("job body must be a JSON object");
  for (const auto& [k, v] : doc.items()) {
    bool known = k == "policy" || k == "partition" || k == "from_device" || k == "to_devices";
    bool queue_only = k == "retries" || k == "created" || k == "last_error";
    if (!known && !(stored && queue_only)) return Bad(fmt::format("unknown key {}", py::Quote(k)));
  }
  for (const char* k : {"policy", "partition", "from_device", "to_devices"}) {
    if (!doc.contains(k)) return Bad(fmt::format("{} missing", k));
  }
  PriorityJob job;
  auto policy = IntField(doc["policy"], "policy", 0, INT32_MAX);
  if (!policy.ok()) return policy.status();
  job.policy = static_cast<int>(*policy);
  auto part = IntField(doc["partition"], "partition", 0, UINT32_MAX);
  if (!part.ok()) return part.status();
  job.partition = static_cast<uint32_t>(*part);
  auto from = DeviceField(doc["from_device"], "from_device");
  if (!from.ok()) return from.status();
  job.from_device = *from;
  const json& to = doc["to_devices"];
  if (!to.is_array() || to.empty() || to.size() > kMaxPriorityTargets) {
    return Bad(fmt::format("to_devices must be a list of 1 to {} devices", kMaxPriorityTargets));
  }
  for (const auto& t : to) {
    auto target = ParseTarget(t);
    if (!target.ok()) return target.status();
    if (std::find(job.to_devices.begin(), job.to_devices.end(), *target) == job.to_devices.end()) {
      job.to_devices.push_back(std::move(*target));
    }
  }
  if (stored) {
    if (doc.contains("retries")) {
      auto r = IntField(doc["retries"], "retries", 0, INT32_MAX);
      if (!r.ok()) return r.status();
      job.retries = static_cast<int>(*r);
    }
    if (doc.contains("created")) {
      if (!doc["created"].is_number()) return Bad("created must be a number");
      job.created = doc["created"].get<double>();
    }
    if (doc.contains("last_error")) {
      if (!doc["last_error"].is_string()) return Bad("last_error must be a string");
      job.last_error = doc["last_error"].get<std::string>();
    }
  }
  return job;
}

std::string PriorityRequestJson(const PriorityJob& job) {
  json to = json::array();
  for (const auto& t : job.to_devices) to.push_back(TargetJson(t));
  return json{{"policy", job.policy}, {"partition", job.partition},
              {"from_device", job.from_device}, {"to_devices", to}}.dump();
}

std::string PriorityJobJson(const PriorityJob& job) {
  json doc = json::parse(PriorityRequestJson(job));
  doc["retries"] = job.retries;
  doc["created"] = job.created;
  doc["last_error"] = job.last_error;
  // Replacement for invalid UTF-8 in an error message copied from elsewhere.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string PriorityJobDir(const std::string& devices_dir, const std::string& device) {
  return fs::Join(fs::Join(devices_dir, device), kPriorityDirName);
}

std::string PriorityJobPath(const std::string& devices_dir, const PriorityJob& job) {
  return fs::Join(PriorityJobDir(devices_dir, job.from_device),
                  fmt::format("{}-{}.json", job.policy, job.partition));
}

Status StorePriorityJob(const std::string& devices_dir, const PriorityJob& job) {
  std::string dir = PriorityJobDir(devices_dir, job.from_device);
  if (int err = fs::MakeDirs(dir); err != 0) return Status::FromErrno("mkdir " + dir, err);
  std::string path = PriorityJobPath(devices_dir, job);
  if (int err = WriteDurably(path, PriorityJobJson(job)); err != 0) {
    return Status::FromErrno("write " + path, err);
  }
  return Status::OK();
}

Status QueuePriorityJob(const std::string& devices_dir, PriorityJob job, double now) {
  std::string path = PriorityJobPath(devices_dir, job);
  std::string text;
  if (fs::ReadFile(path, &text) == 0) {
    auto old = ParsePriorityJob(text, true);
    if (old.ok()) {
      for (auto& t : job.to_devices) {
        if (std::find(old->to_devices.begin(), old->to_devices.end(), t) == old->to_devices.end()) {
          old->to_devices.push_back(std::move(t));
        }
      }
      if (old->to_devices.size() > kMaxPriorityTargets) {
        return Bad(fmt::format("job {} would have over {} targets", path, kMaxPriorityTargets));
      }
      return StorePriorityJob(devices_dir, *old);
    }
    // An unreadable old file is replaced by the new job (nothing in it can be used).
  }
  job.retries = 0;
  job.created = now;
  job.last_error.clear();
  return StorePriorityJob(devices_dir, job);
}

Result<std::vector<QueuedPriorityJob>> ListPriorityJobs(const std::string& devices_dir,
                                                        const std::string& device) {
  std::string dir = PriorityJobDir(devices_dir, device);
  std::vector<std::string> names;
  if (int err = fs::ListDir(dir, &names); err != 0) {
    if (err == ENOENT) return std::vector<QueuedPriorityJob>{};
    return Status::FromErrno("list " + dir, err);
  }
  std::sort(names.begin(), names.end());
  std::vector<QueuedPriorityJob> out;
  for (const auto& n : names) {
    if (n.size() < 5 || n.compare(n.size() - 5, 5, ".json") != 0) continue;  // temp files
    QueuedPriorityJob q;
    q.path = fs::Join(dir, n);
    std::string text;
    if (int err = fs::ReadFile(q.path, &text); err != 0) {
      if (err == ENOENT) continue;  // done meanwhile
      q.job = Status::FromErrno("read " + q.path, err);
    } else {
      q.job = ParsePriorityJob(text, true);
      if (!q.job.ok()) q.job = q.job.status().WithContext(q.path);
    }
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace replicant::ops
