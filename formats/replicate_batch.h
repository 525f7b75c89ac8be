// REPLICATE in batches: replicant's extension of Swift's REPLICATE verb between a
// replicant replicator and `replicant serve`. An idle pass asks each peer for the
// suffix hashes of every partition; one request per partition and peer costs both
// sides more in TCP, HTTP and thread wake-ups than the peer's hashes.pkl read itself,
// so a replicator asks for a worker's window of partitions on one peer device at once:
//
//   REPLICATE-BATCH /<device> HTTP/1.1
//   X-Backend-Storage-Policy-Index: <policy>
//   X-Replicant-Partitions: <p1>,<p2>,...       (1..kMaxBatchPartitions, no repeats)
//   -> 200, body: for each partition, in the request's order,
//        "<status> <length>\n" followed by <length> bytes
//      (the status and body REPLICATE /<device>/<p> would have answered);
//      or the error REPLICATE would answer for the whole device (507, 503, 400).
//
// Swift's object server answers the unknown method with 405 and touches nothing; the
// replicator then asks that peer partition by partition. This file is the framing
// only, for both sides. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace replicant::replicate_batch {

inline constexpr std::string_view kMethod = "REPLICATE-BATCH";
inline constexpr std::string_view kPartitionsHeader = "X-Replicant-Partitions";
// A batch is one peer thread's work: a bound on what one request makes the peer do,
// and on the answer the replicator buffers (kMaxEntryBody each).
inline constexpr size_t kMaxBatchPartitions = 16;
// A whole answer: what one REPLICATE answer may be (replicate_client.h), so a batch
// costs the replicator no more memory than a single request. A partition's hashes are
// ~190 KB at most (4096 suffixes), so 16 of them fit.
inline constexpr size_t kMaxAnswerBody = 4 << 20;

// The header's value for `partitions` ("12,345").
std::string JoinPartitions(const std::vector<std::string>& partitions);
// The header's partitions: 1..kMaxBatchPartitions comma-separated runs of 1..10
// digits, no repeats; InvalidArgument otherwise (the handler checks each partition's
// canonical form and range as REPLICATE does).
Result<std::vector<std::string>> SplitPartitions(std::string_view header);

struct Entry {
  int status = 0;
  std::string_view body;  // into the answer's body
};
// Appends one entry to an answer body.
void AppendEntry(int status, std::string_view body, std::string* out);
// Exactly `count` entries, the whole body used; Corruption (with where the framing
// broke) otherwise. A status outside 100..599 or a length past the body's end is
// corruption.
Result<std::vector<Entry>> ParseAnswer(std::string_view body, size_t count);

}  // namespace replicant::replicate_batch
