// swift_path: how Swift 2.30's object server turns a replication request into a device,
// partition, suffixes and policy, and which answer it gives when it cannot.
//
// SplitPath is swift.common.utils.split_path; ValidateDevicePartition is
// validate_device_partition; constraints.check_drive is diskfile/drive.h (507 when it fails);
// ResolvePolicy is POLICIES.get_by_index of X-Backend-Storage-Policy-Index (503 "No
// policy with index X"). ParseReplicatePath / ParseSsyncPath chain them in Swift's
// order and add replicant's stricter rules (a partition must be a canonical decimal;
// a suffix part with '/' or equal to "." or ".." is a 400) so that no request can name
// anything outside <devices>/<device>/objects[-N]/<partition>. Pure functions;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "formats/swift_conf.h"

namespace replicant::receiver {

// An HTTP error answer, as Swift would give it.
struct HttpError {
  int status = 500;
  std::string body;
  std::string content_type = "text/html; charset=UTF-8";
};

// swift.common.utils.split_path: segments, with std::nullopt for missing ones.
// Error text is Swift's ("Invalid path: <quoted path>").
Result<std::vector<std::optional<std::string>>> SplitPath(std::string_view path, int minsegs,
                                                          int maxsegs, bool rest_with_last);
// validate_device_partition: "Invalid device: x" / "Invalid partition: x".
Status ValidateDevicePartition(std::string_view device, std::string_view partition);
// check_utf8(path, internal=True): non-empty and valid UTF-8. NUL is Swift's reserved
// byte, allowed in internal requests; the checks after this one keep it off the disk.
bool CheckUtf8(std::string_view s);
// diskfile.valid_suffix: exactly 3 characters of [0-9a-f].
bool ValidSuffix(std::string_view s);
// Swift's `str(int)` of a partition: digits only, no leading zero, below 2^32.
bool CanonicalPartition(std::string_view s);

// POLICIES.get_by_index(header value); nullptr when absent from swift.conf (missing or
// empty header means 0; anything Python's int() rejects finds nothing).
const StoragePolicy* ResolvePolicy(const SwiftConf& swift, const std::string* header);
// The 503 Swift answers for an unknown policy index (the header as Python prints it).
HttpError NoSuchPolicy(const std::string* header);
// The 507 Swift answers for an unusable device (the name HTML-escaped, unlike Swift).
HttpError InsufficientStorage(std::string_view device);
// Python's html.escape(s, quote=True).
std::string HtmlEscape(std::string_view s);

// The partition a request's path names, as the peer wrote it: checked by the parsers
// below for shape only; the handler still checks the device and partition (they
// become a diskfile::PartitionLocation once valid).
struct RequestPartition {
  std::string device;
  std::string partition;
  // REPLICATE's suffix parts as Swift splits them; empty means "return the hashes".
  std::vector<std::string> suffixes;
};
// REPLICATE /<device>/<partition>[/<suf>-<suf>...] (split_path(path, 2, 3, True)).
Result<RequestPartition> ParseReplicatePath(std::string_view path);
// SSYNC /<device>/<partition> (split_path(path, 2, 2, False)).
Result<RequestPartition> ParseSsyncPath(std::string_view path);
// REPLICATE-BATCH /<device> with its X-Replicant-Partitions header
// (formats/replicate_batch.h): one RequestPartition per listed partition, each
// checked as REPLICATE checks its path; a missing header is a 400 too.
Result<std::vector<RequestPartition>> ParseReplicateBatch(std::string_view path,
                                                          const std::string* partitions);

}  // namespace replicant::receiver
