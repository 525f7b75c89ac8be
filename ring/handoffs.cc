// HandoffIterator: Swift 2.30's Ring.get_more_nodes, step for step.
//
// Quirks kept on purpose, since handoff order must match Swift's:
// * the scan start is md5(str(part)) (not salted) >> part_shift;
// * the scan is range(start, parts, inc) then range(inc - ((parts-start) % inc),
//   start, inc): partition 0 is only visited when start == 0, and with inc > 1 only
//   partitions congruent to start (mod inc) are visited;
// * each of the four passes restarts the scan and stops once its tier count reaches
//   the number of such tiers among devices holding partitions;
// * the ip tier is (region, zone, ip): the port is not part of it.
// Checking the pass's stop condition before every partition is equivalent to Swift's
// checks (before the scan and after each yield), since the counts only change on yield.
#include <string>

#include "ring/hash_path.h"
#include "ring/ring.h"

namespace replicant {

HandoffIterator::HandoffIterator(const Ring& ring, uint32_t part)
    : ring_(ring),
      used_(ring.devs_.size(), 0),
      seen_region_(ring.region_ids_, 0),
      seen_zone_(ring.zone_ids_, 0),
      seen_ip_(ring.ip_ids_, 0) {
  auto mark = [](std::vector<uint8_t>& seen, int id, int& n) {
    if (!seen[id]) {
      seen[id] = 1;
      ++n;
    }
  };
  for (const Device* d : ring.GetPartNodes(part)) {
    mark(used_, d->id, n_used_);
    mark(seen_region_, ring.dev_region_[d->id], n_regions_);
    mark(seen_zone_, ring.dev_zone_[d->id], n_zones_);
    mark(seen_ip_, ring.dev_ip_[d->id], n_ips_);
  }
  const uint64_t parts = ring.parts_;
  const uint64_t inc = ring.inc_;
  start_ = PartFromDigest(Md5Digest(std::to_string(part)), ring.part_shift_);
  first_len_ = (parts - start_ + inc - 1) / inc;
  second_from_ = static_cast<uint32_t>(inc - ((parts - start_) % inc));
  uint64_t second_len =
      second_from_ < start_ ? (uint64_t{start_} - second_from_ + inc - 1) / inc : 0;
  scan_len_ = first_len_ + second_len;
}

uint32_t HandoffIterator::ScanPart(uint64_t k) const {
  if (k < first_len_) return static_cast<uint32_t>(start_ + k * ring_.inc_);
  return static_cast<uint32_t>(second_from_ + (k - first_len_) * ring_.inc_);
}

bool HandoffIterator::PassComplete() const {
  switch (pass_) {
    case 1: return n_regions_ == ring_.num_regions_;
    case 2: return n_zones_ == ring_.num_zones_;
    case 3: return n_ips_ == ring_.num_ips_;
    default: return n_used_ == ring_.num_assigned_devs_;
  }
}

const Device* HandoffIterator::Next() {
  const auto& rows = ring_.rows_;
  while (pass_ <= 4) {
    if (k_ >= scan_len_ || PassComplete()) {
      ++pass_;
      k_ = 0;
      row_ = 0;
      continue;
    }
    const uint32_t hp = ScanPart(k_);
    while (row_ < rows.size()) {
      const auto& row = rows[row_++];
      if (hp >= row.size()) continue;
      const int id = row[hp];
      if (used_[id]) continue;
      const int region = ring_.dev_region_[id];
      const int zone = ring_.dev_zone_[id];
      const int ip = ring_.dev_ip_[id];
      // Each pass records the tiers Swift's corresponding loop adds to its sets.
      switch (pass_) {
        case 1:
          if (seen_region_[region]) continue;
          seen_region_[region] = 1;
          ++n_regions_;
          [[fallthrough]];
        case 2:
          if (seen_zone_[zone]) {
            if (pass_ == 2) continue;
          } else {
            seen_zone_[zone] = 1;
            ++n_zones_;
          }
          [[fallthrough]];
        case 3:
          if (seen_ip_[ip]) {
            if (pass_ == 3) continue;
          } else {
            seen_ip_[ip] = 1;
            ++n_ips_;
          }
          break;
        default:
          break;
      }
      used_[id] = 1;
      ++n_used_;
      return &*ring_.devs_[id];
    }
    row_ = 0;
    ++k_;
  }
  return nullptr;
}

}  // namespace replicant
