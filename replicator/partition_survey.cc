#include "replicator/partition_survey.h"

#include <algorithm>
#include <random>

#include "base/parallel_for.h"

namespace replicant {

bool ListsThisPass(const PartitionJob& job, int replication_cycle) {
  return (job.partition + static_cast<uint32_t>(replication_cycle)) % 10 == 0;
}

std::vector<Device> ShuffledNodes(const PartitionJob& job) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::vector<Device> nodes = job.nodes;
  std::shuffle(nodes.begin(), nodes.end(), rng);
  return nodes;
}

std::vector<Survey> SurveyJobs(
    const std::vector<const PartitionJob*>& jobs, const ReplicateClient& client,
    const hashes::GetHashesOptions& base, int replication_cycle,
    const std::function<LockupWatch::Busy(const PartitionJob&)>& watch_local) {
  std::vector<Survey> out(jobs.size());
  std::vector<HashesRequest> requests;
  auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < jobs.size(); ++i) {
    out[i].taken = now;
    out[i].nodes = ShuffledNodes(*jobs[i]);
    for (const Device& n : out[i].nodes) {
      requests.push_back({{n.replication_ip, n.replication_port, n.device},
                          jobs[i]->sync.partition,
                          jobs[i]->sync.policy_index});
    }
  }
  auto pending = client.StartGetHashes(requests);
  // The peers work on their answers meanwhile.
  ParallelFor(jobs.size(), kSurveyHashThreads, [&](size_t i) {
    hashes::GetHashesOptions o = base;
    o.do_listdir = ListsThisPass(*jobs[i], replication_cycle);
    LockupWatch::Busy busy;
    if (watch_local) busy = watch_local(*jobs[i]);
    out[i].local = hashes::GetHashes(jobs[i]->sync.path, o);
  });
  auto answers = pending->Collect();
  size_t k = 0;
  for (auto& s : out) {
    for (size_t j = 0; j < s.nodes.size(); ++j) s.answers.push_back(std::move(answers[k++]));
  }
  return out;
}

size_t NextSurveyWindow(size_t max_window, const std::vector<Survey>& last) {
  if (last.empty()) return max_window;
  size_t held = 0;
  for (const Survey& s : last) {
    if (s.local.ok()) held += s.local->hashes.size();
    for (const auto& a : s.answers) {
      if (a.ok()) held += a->hashes.size();
    }
  }
  size_t per_partition = std::max<size_t>(1, held / last.size());
  return std::clamp<size_t>(kSurveySuffixBudget / per_partition, 1, max_window);
}

}  // namespace replicant
