// SwiftConf: the cluster-wide facts in swift.conf that replication needs.
//
// [swift-hash] swift_hash_path_prefix / swift_hash_path_suffix (read as Swift's
// validate_hash_conf reads them: Python ConfigParser rules, file read as latin-1 so
// the bytes are kept) and the [storage-policy:N] sections. Immutable once loaded;
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace replicant {

struct StoragePolicy {
  int index = 0;
  std::string name;
  std::vector<std::string> aliases;  // names besides `name`, in file order
  std::string type = "replication";  // "replication" or "erasure_coding"
  bool is_default = false;
  bool deprecated = false;

  // objects, objects-1, ...
  std::string data_dir() const { return index == 0 ? "objects" : "objects-" + std::to_string(index); }
  // object.ring.gz, object-1.ring.gz, ...
  std::string ring_name() const { return index == 0 ? "object" : "object-" + std::to_string(index); }
};

struct SwiftConf {
  std::string hash_path_prefix;  // raw bytes
  std::string hash_path_suffix;  // raw bytes
  // Sorted by index. When swift.conf names no policy, Swift's implicit
  // Policy-0 ("Policy-0", default) is present.
  std::vector<StoragePolicy> policies;

  const StoragePolicy* FindPolicy(int index) const;
  // Swift's POLICIES.default: always present in a loaded SwiftConf.
  const StoragePolicy* DefaultPolicy() const;
};

// Reads <swift_dir>/swift.conf. Errors name the file and the section/option at fault
// (missing hash prefix and suffix, duplicate policy index or name, no default...).
Result<SwiftConf> LoadSwiftConf(const std::string& swift_dir);
// The same, from the file's bytes; path is used in messages.
Result<SwiftConf> ParseSwiftConf(std::string_view bytes, const std::string& path);

}  // namespace replicant
