#include "diskfile/fallocate.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cmath>

#include <fmt/format.h>

#include "formats/config.h"

namespace replicant::diskfile {

Status ParseFallocateReserve(std::string_view value, FallocateConfig* out) {
  auto bad = [&] {
    return Status::InvalidArgument("Error: " + std::string(value) +
                                   " is an invalid value for fallocate_reserve.");
  };
  if (!value.empty() && value.back() == '%') {
    auto v = ParsePythonFloat(value.substr(0, value.size() - 1));
    if (!v.ok()) return bad();
    out->reserve = *v;
    out->reserve_is_percent = true;
  } else {
    auto v = ParsePythonInt(value);
    if (!v.ok()) return bad();
    out->reserve = static_cast<double>(*v);
    out->reserve_is_percent = false;
  }
  return Status::OK();
}

namespace {

Status CheckStats(const struct statvfs& st, uint64_t size, const FallocateConfig& config,
                  std::string_view what) {
  // Python ints: the free space after the allocation may be negative.
  double free = static_cast<double>(st.f_frsize) * static_cast<double>(st.f_bavail) -
                static_cast<double>(size);
  if (config.reserve_is_percent) {
    double total = static_cast<double>(st.f_frsize) * static_cast<double>(st.f_blocks);
    free = total > 0 ? free / total * 100 : 0;
  }
  if (free <= config.reserve) {
    return Status::NoSpace(fmt::format("{}: FALLOCATE_RESERVE fail {:g} <= {:g}{}", what, free,
                                       config.reserve, config.reserve_is_percent ? "%" : ""));
  }
  return Status::OK();
}

}  // namespace

Status CheckFallocateReserve(int fd, uint64_t size, const FallocateConfig& config,
                             std::string_view what) {
  if (!config.enabled || config.reserve == 0) return Status::OK();
  struct statvfs st;
  if (fstatvfs(fd, &st) != 0) return Status::FromErrno("fstatvfs " + std::string(what), errno);
  return CheckStats(st, size, config, what);
}

Status CheckFallocateReserveAt(const std::string& path, const FallocateConfig& config) {
  if (!config.enabled || config.reserve == 0) return Status::OK();
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0) return Status::FromErrno("statvfs " + path, errno);
  return CheckStats(st, 0, config, path);
}

Status Fallocate(int fd, uint64_t size, const FallocateConfig& config, std::string_view what) {
  if (!config.enabled) return Status::OK();
  if (size >= (uint64_t{1} << 63)) return Status::InvalidArgument("size must be less than 2 ** 63");
  if (Status s = CheckFallocateReserve(fd, size, config, what); !s.ok()) return s;
  if (size == 0) return Status::OK();
  if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size)) == 0) return Status::OK();
  int err = errno;
  if (err == ENOSYS || err == EOPNOTSUPP || err == EINVAL) return Status::OK();
  return Status::FromErrno(fmt::format("Unable to fallocate({}) {}", size, what), err);
}

}  // namespace replicant::diskfile
