#include "receiver/replication_slots.h"

namespace replicant::receiver {

std::optional<ReplicationSlots::Slot> ReplicationSlots::TryAcquire() {
  if (limit_ <= 0) {
    in_use_.fetch_add(1);
    return Slot(this);
  }
  int cur = in_use_.load();
  while (cur < limit_) {
    if (in_use_.compare_exchange_weak(cur, cur + 1)) return Slot(this);
  }
  return std::nullopt;
}

ReplicationSlots::Slot::~Slot() {
  if (owner_) owner_->in_use_.fetch_sub(1);
}

}  // namespace replicant::receiver
