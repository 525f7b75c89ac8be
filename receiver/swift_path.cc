#include "receiver/swift_path.h"

#include <cstdint>

#include "base/text.h"
#include "formats/config.h"
#include "formats/py_text.h"
#include "formats/pystr.h"
#include "formats/replicate_batch.h"

namespace replicant::receiver {
namespace {

// Python's str.split(sep, maxsplit).
std::vector<std::string> PySplit(std::string_view s, char sep, int maxsplit) {
  std::vector<std::string> out;
  size_t start = 0;
  while (maxsplit < 0 || static_cast<int>(out.size()) < maxsplit) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) break;
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
  out.emplace_back(s.substr(start));
  return out;
}

}  // namespace

Result<std::vector<std::optional<std::string>>> SplitPath(std::string_view path, int minsegs,
                                                          int maxsegs, bool rest_with_last) {
  if (maxsegs == 0) maxsegs = minsegs;
  if (minsegs > maxsegs) return Status::InvalidArgument("minsegs > maxsegs");
  auto invalid = [&] { return Status::InvalidArgument("Invalid path: " + py::Quote(path)); };
  minsegs += 1;
  maxsegs += 1;
  std::vector<std::string> segs = PySplit(path, '/', rest_with_last ? maxsegs - 1 : maxsegs);
  int count = static_cast<int>(segs.size());
  bool empty_required = false;
  for (int i = 1; i < minsegs && i < count; ++i) empty_required |= segs[i].empty();
  if (!segs[0].empty() || count < minsegs || empty_required) return invalid();
  if (rest_with_last) {
    if (count > maxsegs) return invalid();
  } else if (count > maxsegs + 1 || (count == maxsegs + 1 && !segs[maxsegs].empty())) {
    return invalid();
  }
  std::vector<std::optional<std::string>> out;
  for (int i = 1; i < maxsegs && i < count; ++i) out.emplace_back(segs[i]);
  while (static_cast<int>(out.size()) < maxsegs - 1) out.emplace_back(std::nullopt);
  return out;
}

Status ValidateDevicePartition(std::string_view device, std::string_view partition) {
  auto bad = [](std::string_view v) {
    return v.empty() || v.find('/') != std::string_view::npos || v == "." || v == "..";
  };
  if (bad(device)) return Status::InvalidArgument("Invalid device: " + py::Quote(device));
  if (bad(partition)) return Status::InvalidArgument("Invalid partition: " + py::Quote(partition));
  return Status::OK();
}

bool CheckUtf8(std::string_view s) { return !s.empty() && pystr::IsStrictUtf8(s); }

bool ValidSuffix(std::string_view s) { return s.size() == 3 && IsLowerHex(s); }

bool CanonicalPartition(std::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v < (uint64_t{1} << 32);
}

const StoragePolicy* ResolvePolicy(const SwiftConf& swift, const std::string* header) {
  if (!header || header->empty()) return swift.FindPolicy(0);
  auto v = ParsePythonInt(*header);
  if (!v.ok() || *v < INT32_MIN || *v > INT32_MAX) return nullptr;
  return swift.FindPolicy(static_cast<int>(*v));
}

HttpError NoSuchPolicy(const std::string* header) {
  return {503, "No policy with index " + (header ? py::Latin1ToUtf8(*header) : std::string("None")),
          "text/plain"};
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#x27;"; break;
      default: out += c;
    }
  }
  return out;
}

HttpError InsufficientStorage(std::string_view device) {
  // Swift reflects the name as is; it comes from the client (a name check_drive
  // refused, e.g. "<script>"), so it is escaped here. Valid names are unchanged.
  return {507,
          "<html><h1>Insufficient Storage</h1><p>There was not enough space to save the "
          "resource. Drive: " + HtmlEscape(device) + "</p></html>"};
}

// The device and partition segments, checked as both request kinds check them.
static Result<RequestPartition> DevicePartition(const std::vector<std::optional<std::string>>& segs) {
  RequestPartition t{*segs[0], *segs[1], {}};
  if (auto st = ValidateDevicePartition(t.device, t.partition); !st.ok()) return st;
  if (!CanonicalPartition(t.partition)) {
    return Status::InvalidArgument("Invalid partition: " + py::Quote(t.partition));
  }
  return t;
}

Result<RequestPartition> ParseReplicatePath(std::string_view path) {
  auto segs = SplitPath(path, 2, 3, true);
  if (!segs.ok()) return segs.status();
  auto parsed = DevicePartition(*segs);
  if (!parsed.ok()) return parsed.status();
  RequestPartition& t = *parsed;
  const std::optional<std::string>& rest = (*segs)[2];
  if (rest && !rest->empty()) {
    t.suffixes = PySplit(*rest, '-', -1);
    for (const auto& s : t.suffixes) {
      // Swift drops these silently (valid_suffix); a traversal attempt gets a 400 here.
      if (s.find('/') != std::string::npos || s == "." || s == "..") {
        return Status::InvalidArgument("Invalid suffix: " + py::Quote(s));
      }
    }
  }
  return t;
}

Result<RequestPartition> ParseSsyncPath(std::string_view path) {
  auto segs = SplitPath(path, 2, 2, false);
  if (!segs.ok()) return segs.status();
  return DevicePartition(*segs);
}

Result<std::vector<RequestPartition>> ParseReplicateBatch(std::string_view path,
                                                          const std::string* partitions) {
  auto segs = SplitPath(path, 1, 1, false);
  if (!segs.ok()) return segs.status();
  if (!partitions) {
    return Status::InvalidArgument(std::string("Missing ") +
                                   std::string(replicate_batch::kPartitionsHeader));
  }
  auto listed = replicate_batch::SplitPartitions(*partitions);
  if (!listed.ok()) return listed.status();
  std::vector<RequestPartition> out;
  for (const auto& p : *listed) {
    auto t = DevicePartition({(*segs)[0], p});
    if (!t.ok()) return t.status();
    out.push_back(std::move(*t));
  }
  return out;
}

}  // namespace replicant::receiver
