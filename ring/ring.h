// Ring: Swift's partitioned consistent-hashing ring, read from a v1 `*.ring.gz`.
//
// A ring maps a partition to its primary devices (one row of uint16 device ids per
// replica; a fractional replica count makes the last row shorter) and, for hinted
// handoff, to an ordered list of further devices that must match Swift 2.30's
// get_more_nodes exactly, quirks included (see handoffs.cc). Devices are held as Swift
// holds them after Ring._reload: `region` defaults to 1 and `replication_ip`/`_port`
// to `ip`/`port` when absent. Removed devices leave holes (std::nullopt); a device's id
// is its index in devices().
//
// A Ring is immutable once loaded and safe to share between threads; it is handed out
// as shared_ptr<const Ring>. Device pointers returned by the accessors stay valid for
// as long as the caller holds that shared_ptr. See ring_watcher.h for reloading.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace replicant {

struct Device {
  int id = 0;
  int region = 1;
  int zone = 0;
  std::string ip;
  int port = 0;
  std::string replication_ip;
  int replication_port = 0;
  std::string device;  // UTF-8
  double weight = 0;
  std::string meta;
};

class HandoffIterator;

class Ring {
 public:
  // Reads a v1 ring file (gzip: "R1NG", !H version 1, !I JSON length, JSON, rows).
  // Any malformation (missing file -> NotFound/IOError; bad gzip, wrong magic or
  // version, bad JSON or fields, short rows, device ids out of range or pointing at a
  // hole -> Corruption) yields a status whose message names the file.
  static Result<std::shared_ptr<const Ring>> Load(const std::string& path);
  // Same, from the gzip-compressed bytes of a ring file; `name` is used in errors.
  static Result<std::shared_ptr<const Ring>> FromGzip(std::string_view gz,
                                                      const std::string& name);

  int part_power() const { return 32 - part_shift_; }
  int part_shift() const { return part_shift_; }
  uint32_t partition_count() const { return parts_; }
  // Swift's calc_replica_count: rows-1 + len(last row)/len(first row), e.g. 2.296875.
  double replica_count() const;
  // Number of rows (ceil of replica_count), the JSON header's `replica_count`.
  int row_count() const { return static_cast<int>(rows_.size()); }
  // Devices by id, with holes; defaults already filled in as Swift's _reload does.
  const std::vector<std::optional<Device>>& devices() const { return devs_; }
  // The device with this id, or nullptr for a hole / out of range.
  const Device* device(int id) const;
  // The device id stored in row `replica` for `part`, if that row covers `part`.
  std::optional<int> DeviceIdAt(int replica, uint32_t part) const;
  std::optional<int> next_part_power() const { return next_part_power_; }
  std::optional<int64_t> version() const { return version_; }
  // Devices holding at least one partition-replica (Swift's assigned_device_count).
  int assigned_device_count() const { return num_assigned_devs_; }

  // Partition of a name, hashed with the cluster's hash path prefix/suffix.
  uint32_t GetPart(std::string_view account, std::string_view container,
                   std::string_view object, std::string_view prefix,
                   std::string_view suffix) const;
  // Partition of a raw MD5 digest (16 bytes).
  uint32_t GetPartFromDigest(std::string_view digest) const;

  // Primaries in row order, de-duplicated by device id (so possibly fewer than the
  // replica count); the position in the list is Swift's node "index". Empty for a
  // partition outside the ring.
  std::vector<const Device*> GetPartNodes(uint32_t part) const;
  // The first `limit` handoffs in Swift's get_more_nodes order; position = the
  // node's "handoff_index". Use HandoffIterator to take them lazily.
  std::vector<const Device*> GetMoreNodes(uint32_t part, size_t limit = SIZE_MAX) const;
  // get_part + get_part_nodes.
  std::pair<uint32_t, std::vector<const Device*>> GetNodes(std::string_view account,
                                                           std::string_view container,
                                                           std::string_view object,
                                                           std::string_view prefix,
                                                           std::string_view suffix) const;

  // True when the two rings list the same devices (ids and holes, ip, port,
  // replication ip/port, device name, region and zone); weights and meta ignored.
  bool SameDevices(const Ring& other) const;

 private:
  friend class HandoffIterator;
  friend class RingParser;
  Ring() = default;
  // Validates rows against devices and precomputes the handoff bookkeeping.
  Status Finish();

  int part_shift_ = 32;
  uint32_t parts_ = 0;
  std::vector<std::optional<Device>> devs_;
  std::vector<std::vector<uint16_t>> rows_;
  std::optional<int> next_part_power_;
  std::optional<int64_t> version_;

  // Dense tier ids per device id (-1 for holes), so get_more_nodes works on flat
  // arrays: region, (region, zone), (region, zone, ip).
  std::vector<int32_t> dev_region_, dev_zone_, dev_ip_;
  int region_ids_ = 0, zone_ids_ = 0, ip_ids_ = 0;
  // Swift's _update_bookkeeping: distinct tiers over devices that hold partitions.
  int num_regions_ = 0, num_zones_ = 0, num_ips_ = 0, num_assigned_devs_ = 0;
  // Handoff scan: inc = parts/65536 or 1.
  uint32_t inc_ = 1;
};

// Lazily walks Swift's get_more_nodes for one partition: four passes over the
// partitions scanned from md5(str(part)), yielding devices in a new region, then a new
// zone, then a new (region, zone, ip), then any unused device. Not thread-safe itself
// (one iterator per caller); the ring must outlive it.
class HandoffIterator {
 public:
  HandoffIterator(const Ring& ring, uint32_t part);
  // The next handoff, or nullptr when Swift's generator would be exhausted.
  const Device* Next();

 private:
  bool PassComplete() const;
  uint32_t ScanPart(uint64_t k) const;

  const Ring& ring_;
  std::vector<uint8_t> used_, seen_region_, seen_zone_, seen_ip_;
  int n_used_ = 0, n_regions_ = 0, n_zones_ = 0, n_ips_ = 0;
  uint32_t start_ = 0;
  uint64_t first_len_ = 0, scan_len_ = 0;  // lengths of range #1 and of both ranges
  uint32_t second_from_ = 0;
  int pass_ = 1;      // 1..4, 5 = exhausted
  uint64_t k_ = 0;    // position in the scan of the current pass
  size_t row_ = 0;    // next row to look at within partition ScanPart(k_)
};

}  // namespace replicant
