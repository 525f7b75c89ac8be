// Process options: Swift's daemon-wide settings that change the process itself rather
// than what it replicates: nice_priority, ionice_class / ionice_priority
// (utils.modify_priority) and user (utils.drop_privileges).
//
// Apply them from the main thread before worker threads start: on Linux both the nice
// value and the I/O priority belong to a thread and are inherited by the threads it
// creates afterwards. Not thread-safe (process-wide effects).
#pragma once

#include <optional>
#include <string>

#include "formats/config.h"
#include "base/status.h"

namespace replicant {

struct ProcessOptions {
  std::optional<std::string> nice_priority;  // -20..19, as setpriority(2)
  std::optional<std::string> ionice_class;   // IOPRIO_CLASS_RT, _BE or _IDLE
  std::string ionice_priority = "0";         // 0..7 within the class
  std::optional<std::string> user;           // switch to this user when started as root
};

ProcessOptions ProcessOptionsFromSection(const ConfigSection& s);

// Swift's modify_priority: a value that cannot be applied is logged as a warning and
// the process keeps its priority, as in Swift.
void ModifyPriority(const ProcessOptions& o);

// Swift's drop_privileges, when `user` is set: as root, the user's supplementary groups,
// gid and uid (and HOME). Not root: nothing changes and a warning says so unless the
// process already runs as that user. An unknown user is an error.
Status DropPrivileges(const ProcessOptions& o);

}  // namespace replicant
