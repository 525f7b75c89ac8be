// Ring accessors, primaries, and the load-time bookkeeping get_more_nodes relies on.
#include "ring/ring.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "ring/hash_path.h"

namespace replicant {

double Ring::replica_count() const {
  if (rows_.empty() || rows_[0].empty()) return 0;
  return static_cast<double>(rows_.size() - 1) +
         static_cast<double>(rows_.back().size()) / static_cast<double>(rows_[0].size());
}

const Device* Ring::device(int id) const {
  if (id < 0 || static_cast<size_t>(id) >= devs_.size() || !devs_[id]) return nullptr;
  return &*devs_[id];
}

std::optional<int> Ring::DeviceIdAt(int replica, uint32_t part) const {
  if (replica < 0 || static_cast<size_t>(replica) >= rows_.size()) return std::nullopt;
  const auto& row = rows_[replica];
  if (part >= row.size()) return std::nullopt;
  return row[part];
}

uint32_t Ring::GetPartFromDigest(std::string_view digest) const {
  return PartFromDigest(digest, part_shift_);
}

uint32_t Ring::GetPart(std::string_view account, std::string_view container,
                       std::string_view object, std::string_view prefix,
                       std::string_view suffix) const {
  return GetPartFromDigest(HashPathDigest(prefix, suffix, account, container, object));
}

std::vector<const Device*> Ring::GetPartNodes(uint32_t part) const {
  // Swift's _get_part_nodes: rows in order, short rows skipped, de-duplicated by id.
  std::vector<const Device*> nodes;
  nodes.reserve(rows_.size());
  for (const auto& row : rows_) {
    if (part >= row.size()) continue;
    const Device* d = &*devs_[row[part]];
    if (std::find(nodes.begin(), nodes.end(), d) == nodes.end()) nodes.push_back(d);
  }
  return nodes;
}

std::vector<const Device*> Ring::GetMoreNodes(uint32_t part, size_t limit) const {
  std::vector<const Device*> out;
  if (limit == 0) return out;
  HandoffIterator it(*this, part);
  while (out.size() < limit) {
    const Device* d = it.Next();
    if (!d) break;
    out.push_back(d);
  }
  return out;
}

std::pair<uint32_t, std::vector<const Device*>> Ring::GetNodes(
    std::string_view account, std::string_view container, std::string_view object,
    std::string_view prefix, std::string_view suffix) const {
  uint32_t part = GetPart(account, container, object, prefix, suffix);
  return {part, GetPartNodes(part)};
}

bool Ring::SameDevices(const Ring& other) const {
  if (devs_.size() != other.devs_.size()) return false;
  for (size_t i = 0; i < devs_.size(); ++i) {
    const auto& a = devs_[i];
    const auto& b = other.devs_[i];
    if (a.has_value() != b.has_value()) return false;
    if (!a) continue;
    if (std::tie(a->id, a->region, a->zone, a->ip, a->port, a->replication_ip,
                 a->replication_port, a->device) !=
        std::tie(b->id, b->region, b->zone, b->ip, b->port, b->replication_ip,
                 b->replication_port, b->device))
      return false;
  }
  return true;
}

Status Ring::Finish() {
  // Every row entry must name a real device: Swift would only fail later, on the
  // first lookup that hits it, which for a replicator means a crash mid-pass.
  std::vector<uint8_t> has_parts(devs_.size(), 0);
  for (size_t r = 0; r < rows_.size(); ++r) {
    for (size_t p = 0; p < rows_[r].size(); ++p) {
      uint16_t id = rows_[r][p];
      if (id >= devs_.size() || !devs_[id]) {
        return Status::Corruption("replica " + std::to_string(r) + " partition " +
                                  std::to_string(p) + " names device " +
                                  std::to_string(id) +
                                  (id >= devs_.size() ? ", which is out of range"
                                                      : ", which is a removed device"));
      }
      has_parts[id] = 1;
    }
  }

  // Dense ids for each tier; counts follow _update_bookkeeping (devices with parts).
  std::map<int, int> regions;
  std::map<std::pair<int, int>, int> zones;
  std::map<std::tuple<int, int, std::string>, int> ips;
  std::vector<uint8_t> region_assigned, zone_assigned, ip_assigned;
  dev_region_.assign(devs_.size(), -1);
  dev_zone_.assign(devs_.size(), -1);
  dev_ip_.assign(devs_.size(), -1);
  auto intern = [](auto& map, auto key, std::vector<uint8_t>& assigned) {
    auto [it, inserted] = map.emplace(std::move(key), static_cast<int>(map.size()));
    if (inserted) assigned.push_back(0);
    return it->second;
  };
  for (size_t i = 0; i < devs_.size(); ++i) {
    if (!devs_[i]) continue;
    const Device& d = *devs_[i];
    dev_region_[i] = intern(regions, d.region, region_assigned);
    dev_zone_[i] = intern(zones, std::make_pair(d.region, d.zone), zone_assigned);
    dev_ip_[i] = intern(ips, std::make_tuple(d.region, d.zone, d.ip), ip_assigned);
    if (has_parts[i]) {
      region_assigned[dev_region_[i]] = 1;
      zone_assigned[dev_zone_[i]] = 1;
      ip_assigned[dev_ip_[i]] = 1;
      ++num_assigned_devs_;
    }
  }
  region_ids_ = static_cast<int>(regions.size());
  zone_ids_ = static_cast<int>(zones.size());
  ip_ids_ = static_cast<int>(ips.size());
  auto count = [](const std::vector<uint8_t>& v) {
    return static_cast<int>(std::count(v.begin(), v.end(), 1));
  };
  num_regions_ = count(region_assigned);
  num_zones_ = count(zone_assigned);
  num_ips_ = count(ip_assigned);
  // Swift: int(parts / 65536) or 1.
  inc_ = std::max<uint32_t>(1, parts_ / 65536);
  return Status::OK();
}

}  // namespace replicant
