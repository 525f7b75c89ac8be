// Internal to ring/: loading a ring file together with the mtime of the exact bytes
// read, for RingWatcher. Thread-safe (no shared state).
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>

#include "base/status.h"

namespace replicant {

class Ring;

// Ring::Load, also reporting the file's mtime as fstat saw it on the open descriptor.
Result<std::shared_ptr<const Ring>> LoadRingFile(const std::string& path, struct timespec* mtime);

}  // namespace replicant
