// Fallocate: Swift's utils.fallocate, with the object server's fallocate_reserve and
// disable_fallocate (swift/common/utils.py).
//
// Before a body of known size is written, its space is reserved with
// fallocate(FALLOC_FL_KEEP_SIZE), so a full disk fails the write before any byte is
// stored. First the reserve: when the free space left after the allocation would be
// at or below fallocate_reserve (bytes, or percent of the filesystem when the value
// ends in '%'), the allocation fails with ENOSPC and nothing is allocated. With
// disable_fallocate neither happens (Swift returns before both). A filesystem without
// fallocate (ENOSYS, EOPNOTSUPP, EINVAL) is not an error, as in Swift.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace replicant::diskfile {

struct FallocateConfig {
  bool enabled = true;           // !disable_fallocate
  double reserve = 0;            // fallocate_reserve; 0 = no reserve (utils' default)
  bool reserve_is_percent = false;
};

// Swift's config_fallocate_value: "<int>" bytes or "<float>%". Sets reserve and
// reserve_is_percent of *out. InvalidArgument with Swift's message otherwise.
Status ParseFallocateReserve(std::string_view value, FallocateConfig* out);

// Swift's fallocate(fd, size): the reserve check, then the allocation. An ENOSPC or
// EDQUOT failure is a NoSpace status naming `what` (the file).
Status Fallocate(int fd, uint64_t size, const FallocateConfig& config, std::string_view what);

// The reserve check alone, for a size about to be written (0: is the filesystem already
// at its reserve?). `fd` is any descriptor on the filesystem.
Status CheckFallocateReserve(int fd, uint64_t size, const FallocateConfig& config,
                             std::string_view what);
// Whether the filesystem holding `path` is already at its reserve: one statvfs, for a
// check on every request.
Status CheckFallocateReserveAt(const std::string& path, const FallocateConfig& config);

}  // namespace replicant::diskfile
