#include "replicator/job_pipeline.h"

namespace replicant {

void StagePipeline::Submit(std::function<void()> stage) {
  if (depth_ <= 1) {
    stage();
    return;
  }
  while (inflight_.size() >= depth_) {
    inflight_.front().get();
    inflight_.pop_front();
  }
  inflight_.push_back(std::async(std::launch::async, std::move(stage)));
}

void StagePipeline::Drain() {
  while (!inflight_.empty()) {
    inflight_.front().get();
    inflight_.pop_front();
  }
}

}  // namespace replicant
