// Layout: where Swift 2.30 keeps a replication policy's objects on a device, and the
// one place that builds those paths.
//
//   <devices>/<device>                       the device path (DevicePath)
//   <device>/objects[-N]/<partition>         a partition dir (get_data_dir)
//   <partition>/<suffix>/<hash>              a suffix dir (last 3 hex of the hash), a hash dir
//   <device>/tmp[-N]                         temp files before the rename (get_tmp_dir)
//
// Policy 0 has no "-N". Partitions arrive either as numbers (the ring) or as the
// decimal text a peer sent (SSYNC, native); both overloads build the same path.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace replicant::diskfile {

// A partition on a local device, as a receiver (SSYNC, native) is asked to write it:
// the one description senders' peers and both receivers share. The replicator's
// PartitionJob and the backends' SyncJob add what a job needs (ring, peers, region).
struct PartitionLocation {
  std::string devices;    // e.g. /srv/node
  std::string device;     // e.g. sdb1
  std::string partition;  // decimal, as the directory (and a request path) names it
  int policy_index = 0;

  std::string device_path() const;  // <devices>/<device>
  std::string dir() const;          // <device_path>/objects[-N]/<partition>
};

// "objects" for policy 0, else "objects-N" (get_data_dir).
std::string DataDirName(int policy_index);
// "tmp" for policy 0, else "tmp-N" (get_tmp_dir).
std::string TmpDirName(int policy_index);
// The last 3 characters of the hash.
std::string_view SuffixOf(std::string_view hash);

// <devices>/<device>
std::string DevicePath(std::string_view devices, std::string_view device);
// <device_path>/objects[-N]
std::string DataDirOn(std::string_view device_path, int policy_index);
// <device_path>/tmp[-N]
std::string TmpDirOn(std::string_view device_path, int policy_index);
// objects[-N]/<partition>: a partition dir relative to its device (as the native
// protocol names files).
std::string PartitionRelPath(int policy_index, std::string_view partition);
// <device_path> of a <device_path>/objects[-N] dir (a SyncJob's obj_path).
std::string DevicePathOfDataDir(std::string_view data_dir);
// <device_path>/objects[-N]/<partition>
std::string PartitionDirOn(std::string_view device_path, int policy_index,
                           std::string_view partition);
// <partition_dir>/<suffix>
std::string SuffixDirIn(std::string_view partition_dir, std::string_view suffix);
// <partition_dir>/<suffix of hash>/<hash>
std::string HashDirIn(std::string_view partition_dir, std::string_view hash);

// <devices>/<device>/objects[-N]/<partition>
std::string PartitionDirFor(std::string_view devices, std::string_view device,
                            int policy_index, uint64_t partition);
// <devices>/<device>/objects[-N]/<partition>/<suffix>
std::string SuffixDirFor(std::string_view devices, std::string_view device, int policy_index,
                         uint64_t partition, std::string_view suffix);
// <devices>/<device>/objects[-N]/<partition>/<suffix>/<hash>
std::string HashDirFor(std::string_view devices, std::string_view device, int policy_index,
                       uint64_t partition, std::string_view hash);

}  // namespace replicant::diskfile
