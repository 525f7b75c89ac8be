#include "diskfile/layout.h"

namespace replicant::diskfile {

namespace {

std::string PolicyString(const char* base, int policy_index) {
  return policy_index == 0 ? std::string(base)
                           : std::string(base) + "-" + std::to_string(policy_index);
}

std::string Child(std::string_view dir, std::string_view name) {
  std::string p(dir);
  p += '/';
  p += name;
  return p;
}

}  // namespace

std::string DataDirName(int policy_index) { return PolicyString("objects", policy_index); }
std::string TmpDirName(int policy_index) { return PolicyString("tmp", policy_index); }

std::string_view SuffixOf(std::string_view hash) {
  return hash.size() <= 3 ? hash : hash.substr(hash.size() - 3);
}

std::string DevicePath(std::string_view devices, std::string_view device) {
  return Child(devices, device);
}

std::string DataDirOn(std::string_view device_path, int policy_index) {
  return Child(device_path, DataDirName(policy_index));
}

std::string TmpDirOn(std::string_view device_path, int policy_index) {
  return Child(device_path, TmpDirName(policy_index));
}

std::string PartitionRelPath(int policy_index, std::string_view partition) {
  return Child(DataDirName(policy_index), partition);
}

std::string DevicePathOfDataDir(std::string_view data_dir) {
  return std::string(data_dir.substr(0, data_dir.rfind('/')));
}

std::string PartitionDirOn(std::string_view device_path, int policy_index,
                           std::string_view partition) {
  return Child(device_path, PartitionRelPath(policy_index, partition));
}

std::string SuffixDirIn(std::string_view partition_dir, std::string_view suffix) {
  return Child(partition_dir, suffix);
}

std::string HashDirIn(std::string_view partition_dir, std::string_view hash) {
  return Child(SuffixDirIn(partition_dir, SuffixOf(hash)), hash);
}

std::string PartitionDirFor(std::string_view devices, std::string_view device,
                            int policy_index, uint64_t partition) {
  return PartitionDirOn(DevicePath(devices, device), policy_index, std::to_string(partition));
}

std::string SuffixDirFor(std::string_view devices, std::string_view device, int policy_index,
                         uint64_t partition, std::string_view suffix) {
  return SuffixDirIn(PartitionDirFor(devices, device, policy_index, partition), suffix);
}

std::string HashDirFor(std::string_view devices, std::string_view device, int policy_index,
                       uint64_t partition, std::string_view hash) {
  return HashDirIn(PartitionDirFor(devices, device, policy_index, partition), hash);
}

std::string PartitionLocation::device_path() const { return DevicePath(devices, device); }

std::string PartitionLocation::dir() const {
  return PartitionDirOn(device_path(), policy_index, partition);
}

}  // namespace replicant::diskfile
