#include "ops/process_options.h"

#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include <spdlog/spdlog.h>

namespace replicant {
namespace {

constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassShift = 13;

std::optional<int> IoClass(const std::string& name) {
  if (name == "IOPRIO_CLASS_RT") return 1;
  if (name == "IOPRIO_CLASS_BE") return 2;
  if (name == "IOPRIO_CLASS_IDLE") return 3;
  return std::nullopt;
}

}  // namespace

ProcessOptions ProcessOptionsFromSection(const ConfigSection& s) {
  ProcessOptions o;
  o.nice_priority = s.Get("nice_priority");
  o.ionice_class = s.Get("ionice_class");
  o.ionice_priority = s.GetString("ionice_priority", "0");
  o.user = s.Get("user");
  return o;
}

void ModifyPriority(const ProcessOptions& o) {
  if (o.nice_priority) {
    auto v = ParsePythonInt(*o.nice_priority);
    if (!v.ok() || setpriority(PRIO_PROCESS, 0, static_cast<int>(*v)) != 0) {
      spdlog::warn("Unable to modify nice priority to '{}': {}; keeping it unchanged",
                   *o.nice_priority, v.ok() ? std::strerror(errno) : v.status().message());
    } else {
      spdlog::debug("set nice priority to {}", *v);
    }
  }
  if (!o.ionice_class) return;
  auto cls = IoClass(*o.ionice_class);
  auto prio = ParsePythonInt(o.ionice_priority);
  if (!cls || !prio.ok() ||
      syscall(SYS_ioprio_set, kIoprioWhoProcess, 0,
              (*cls << kIoprioClassShift) | static_cast<int>(*prio)) != 0) {
    spdlog::warn("Unable to modify I/O scheduling class '{}' and priority '{}': {}; keeping "
                 "them unchanged", *o.ionice_class, o.ionice_priority,
                 !cls ? "unknown class" : !prio.ok() ? prio.status().message()
                                                     : std::strerror(errno));
  } else {
    spdlog::debug("set ionice class {} priority {}", *cls, *prio);
  }
}

Status DropPrivileges(const ProcessOptions& o) {
  if (!o.user || o.user->empty()) return Status::OK();
  errno = 0;
  passwd* pw = getpwnam(o.user->c_str());
  if (!pw) return Status::InvalidArgument("user '" + *o.user + "': no such user");
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  std::string home = pw->pw_dir;
  if (geteuid() != 0) {
    if (geteuid() != uid) {
      spdlog::warn("user = {}: not started as root, so still running as uid {}", *o.user,
                   geteuid());
    }
    return Status::OK();
  }
  // Swift: the groups whose member list names the user (the primary gid by setgid).
  std::vector<gid_t> groups;
  setgrent();
  while (group* g = getgrent()) {
    for (char** m = g->gr_mem; m && *m; ++m) {
      if (*o.user == *m) groups.push_back(g->gr_gid);
    }
  }
  endgrent();
  if (setgroups(groups.size(), groups.data()) != 0) return Status::FromErrno("setgroups", errno);
  if (setgid(gid) != 0) return Status::FromErrno("setgid " + std::to_string(gid), errno);
  if (setuid(uid) != 0) return Status::FromErrno("setuid " + std::to_string(uid), errno);
  setenv("HOME", home.c_str(), 1);
  if (uid != 0) spdlog::info("Running as user {} (uid {}, gid {})", *o.user, uid, gid);
  return Status::OK();
}

}  // namespace replicant
