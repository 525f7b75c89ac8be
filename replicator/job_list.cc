#include "replicator/job_list.h"

#include <algorithm>

#include "diskfile/layout.h"

namespace replicant {

JobList::JobList(std::vector<PartitionJob> built) {
  built_.reserve(built.size());
  for (auto& j : built) built_.push_back(std::make_shared<const PartitionJob>(std::move(j)));
}

bool JobList::is_handoff(size_t i) const {
  return built_.empty() ? tickets_[i].is_handoff : built_[i]->sync.is_handoff;
}

const std::string& JobList::device(size_t i) const {
  return built_.empty() ? sources_[tickets_[i].source].local.device : built_[i]->sync.device;
}

int JobList::policy_index(size_t i) const {
  return built_.empty() ? sources_[tickets_[i].source].policy_index
                        : built_[i]->sync.policy_index;
}

std::shared_ptr<const PartitionJob> JobList::Get(size_t i) const {
  if (!built_.empty()) return built_[i];
  const JobTicket& t = tickets_[i];
  const JobSource& src = sources_[t.source];
  auto job = std::make_shared<PartitionJob>();
  job->partition = t.partition;
  for (const Device* d : src.ring->GetPartNodes(t.partition)) {
    if (d->id != src.local.id) job->nodes.push_back(*d);
  }
  job->local_dev_id = src.local.id;
  job->ring = src.ring;
  job->sync.device = src.local.device;
  job->sync.partition =
      t.name == JobTicket::kCanonicalName ? std::to_string(t.partition) : names_[t.name];
  job->sync.policy_index = src.policy_index;
  job->sync.obj_path = diskfile::DataDirOn(src.device_path, src.policy_index);
  job->sync.path =
      diskfile::PartitionDirOn(src.device_path, src.policy_index, job->sync.partition);
  job->sync.region = src.local.region;
  job->sync.is_handoff = t.is_handoff;
  return job;
}

uint32_t JobList::AddSource(JobSource s) {
  sources_.push_back(std::move(s));
  return static_cast<uint32_t>(sources_.size() - 1);
}

void JobList::Add(JobTicket t, const std::string& dir_name) {
  if (dir_name != std::to_string(t.partition)) {
    t.name = static_cast<uint32_t>(names_.size());
    names_.push_back(dir_name);
  }
  tickets_.push_back(t);
}

void JobList::Shuffle(std::mt19937_64& rng, bool handoffs_first) {
  std::shuffle(tickets_.begin(), tickets_.end(), rng);
  if (handoffs_first) {
    std::stable_partition(tickets_.begin(), tickets_.end(),
                          [](const JobTicket& t) { return t.is_handoff; });
  }
}

}  // namespace replicant
