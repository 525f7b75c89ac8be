#include "formats/replicate_batch.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "formats/peer_message.h"

namespace replicant::replicate_batch {

std::string JoinPartitions(const std::vector<std::string>& partitions) {
  std::string out;
  for (const auto& p : partitions) out += (out.empty() ? "" : ",") + p;
  return out;
}

Result<std::vector<std::string>> SplitPartitions(std::string_view header) {
  std::vector<std::string> out;
  std::set<std::string_view> seen;
  size_t start = 0;
  for (;;) {
    size_t comma = header.find(',', start);
    std::string_view p = header.substr(start, comma == std::string_view::npos ? comma : comma - start);
    if (p.empty() || p.size() > 10 ||
        !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Status::InvalidArgument("Invalid partition list: " + CapPeerMessage(header, 256));
    }
    if (!seen.insert(p).second) {
      return Status::InvalidArgument("Partition listed twice: " + std::string(p));
    }
    out.emplace_back(p);
    if (out.size() > kMaxBatchPartitions) {
      return Status::InvalidArgument(
          fmt::format("More than {} partitions in one batch", kMaxBatchPartitions));
    }
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

void AppendEntry(int status, std::string_view body, std::string* out) {
  *out += fmt::format("{} {}\n", status, body.size());
  out->append(body);
}

namespace {

// A decimal of at most `max_digits` digits ending at `stop`; advances *at past it.
bool ReadNumber(std::string_view s, size_t* at, char stop, size_t max_digits, uint64_t* v) {
  size_t end = s.find(stop, *at);
  if (end == std::string_view::npos || end == *at || end - *at > max_digits) return false;
  auto [ptr, ec] = std::from_chars(s.data() + *at, s.data() + end, *v);
  if (ec != std::errc() || ptr != s.data() + end) return false;
  *at = end + 1;
  return true;
}

}  // namespace

Result<std::vector<Entry>> ParseAnswer(std::string_view body, size_t count) {
  std::vector<Entry> out;
  size_t at = 0;
  while (out.size() < count) {
    uint64_t status = 0, length = 0;
    if (!ReadNumber(body, &at, ' ', 3, &status) || status < 100 || status > 599 ||
        !ReadNumber(body, &at, '\n', 10, &length) || length > body.size() - at) {
      return Status::Corruption(
          fmt::format("batch answer: entry {} of {} malformed at byte {}", out.size() + 1,
                      count, at));
    }
    out.push_back({static_cast<int>(status), body.substr(at, length)});
    at += length;
  }
  if (at != body.size()) {
    return Status::Corruption(
        fmt::format("batch answer: {} bytes after the {} entries", body.size() - at, count));
  }
  return out;
}

}  // namespace replicant::replicate_batch
