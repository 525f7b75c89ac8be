// Drive checks: whether <devices>/<drive> is a device the object store may use, as
// Swift 2.30 decides it (constraints.check_drive and utils.ismount).
//
// With mount_check the device must be a mount point, or (as in a SAIO or a
// container) a directory holding a ".ismount" file; without it, a directory. The
// drive name must be what urllib's quote_plus leaves alone, and never "." or "..".
// The replicator's job collector and the receiver both use these, so a device is
// usable to one exactly when it is to the other. Thread-safe (stat calls only).
#pragma once

#include <string>

#include "base/status.h"

namespace replicant::diskfile {

// check_drive(devices, drive, mount_check): the device path (os.path.join), or why
// it is unusable (InvalidArgument for a bad name, Unavailable for a missing or
// unmounted device).
Result<std::string> CheckDrive(const std::string& devices, const std::string& drive,
                               bool mount_check);
// utils.ismount: a mount point, or a directory holding a ".ismount" file.
bool IsMount(const std::string& path);

}  // namespace replicant::diskfile
