#include "replicator/pass_observer.h"

#include <chrono>

namespace replicant {
namespace {

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ObservedJob::ObservedJob(PassObserver* o, const PartitionJob& job)
    : o_(o), job_(job), start_(MonotonicSeconds()) {
  if (o_) o_->JobStarted(job_);
}

ObservedJob::~ObservedJob() {
  if (o_) o_->JobFinished(job_, MonotonicSeconds() - start_);
}

void ObserverList::PassStarted(const JobList& jobs) {
  for (auto* o : list_) o->PassStarted(jobs);
}
void ObserverList::JobStarted(const PartitionJob& job) {
  for (auto* o : list_) o->JobStarted(job);
}
void ObserverList::JobFinished(const PartitionJob& job, double seconds) {
  for (auto* o : list_) o->JobFinished(job, seconds);
}
void ObserverList::PartitionLockFailed(const PartitionJob& job) {
  for (auto* o : list_) o->PartitionLockFailed(job);
}

void ObserverList::StatsChanged(const std::string& device, const ReplicationStats& before,
                                const ReplicationStats& after) {
  for (auto* o : list_) o->StatsChanged(device, before, after);
}

void ObserverList::PriorityChanged(const PriorityProgress& p) {
  for (auto* o : list_) o->PriorityChanged(p);
}

}  // namespace replicant
