// Job pipelining: a replicator worker prepares its next partition while the sync of
// the previous one is still running.
//
// A partition job has two stages: preparing (local suffix hashes, the peers' hashes
// by REPLICATE, what differs) and syncing (sessions with the peers, which spend most
// of their time waiting for the receivers to write and fsync). A StagePipeline lets
// one worker run the second stage of up to `depth` jobs on their own threads while it
// prepares the next; depth 1 runs every stage inline, as Swift does.
//
// A backend whose stages could meet on one peer device keeps them apart itself (the
// native backend's PeerGate).
//
// Thread-safety: a StagePipeline belongs to one worker thread; its stages run
// concurrently with that thread and must be thread-safe themselves.
#pragma once

#include <deque>
#include <functional>
#include <future>

namespace replicant {

class StagePipeline {
 public:
  explicit StagePipeline(int depth) : depth_(depth < 1 ? 1 : depth) {}
  StagePipeline(const StagePipeline&) = delete;
  StagePipeline& operator=(const StagePipeline&) = delete;
  ~StagePipeline() { Drain(); }

  // Runs `stage` inline (depth 1) or on a thread of its own, after waiting for the
  // oldest stage in flight when `depth` are running.
  void Submit(std::function<void()> stage);
  // Waits for every stage in flight.
  void Drain();

 private:
  size_t depth_;
  std::deque<std::future<void>> inflight_;
};

}  // namespace replicant
