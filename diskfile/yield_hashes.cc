#include "diskfile/yield_hashes.h"

#include <algorithm>

#include "diskfile/fs_util.h"
#include "diskfile/invalidate.h"
#include "diskfile/ondisk_files.h"
#include "formats/pystr.h"

namespace replicant::diskfile {

std::vector<std::string> ListSuffixes(const std::string& partition_dir) {
  std::vector<std::string> out;
  Result<std::vector<std::string>> names = fs::ListDirNames(partition_dir);
  if (!names.ok()) return out;
  for (std::string& n : *names) {
    // yield_suffixes: len(suffix) == 3 and int(suffix, 16) parses.
    bool neg;
    uint64_t v;
    if (pystr::Length(n) == 3 && pystr::ParseHexInt(n, &neg, &v)) out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status ForEachObject(const std::string& suffix_dir, int64_t reclaim_age, double now_seconds,
                     const std::function<void(const std::string& hash, const OnDiskFiles&)>& visit) {
  std::vector<std::string> hashes;
  const int listed = fs::ListDir(suffix_dir, &hashes);
  if (listed != 0 && listed != ENOENT && listed != ENOTDIR) {
    return Status::FromErrno("listdir " + suffix_dir, listed);
  }
  std::sort(hashes.begin(), hashes.end());
  bool found_files = false;
  for (const std::string& hash : hashes) {
    Result<CleanupResult> c = CleanupOnDiskFiles(suffix_dir + "/" + hash, reclaim_age, now_seconds);
    if (!c.ok()) {
      // Vanished meanwhile, or not a dir: not an object. Anything else (EIO, EMFILE)
      // fails the listing, so the object is never taken for absent.
      if (c.status().IsNotFound() || c.status().code() == Status::Code::kInvalidArgument) continue;
      return c.status();
    }
    if (!c->remaining.empty()) found_files = true;
    // No .data or .ts: cannot be opened, so not replicated.
    if (c->files.data_info || c->files.ts_info) visit(hash, c->files);
  }
  // Empty hash dirs were removed by the cleanup; let the next rehash drop the suffix.
  // (Swift does so for a missing suffix too; only a listed one's failure counts.)
  if (!found_files) {
    Status s = InvalidateHash(suffix_dir);
    if (!s.ok() && listed == 0) return s;
  }
  return Status::OK();
}

Result<std::vector<HashTimestamps>> YieldHashes(const std::string& suffix_dir,
                                                int64_t reclaim_age, double now_seconds) {
  std::vector<HashTimestamps> out;
  Status st = ForEachObject(suffix_dir, reclaim_age, now_seconds,
                            [&](const std::string& hash, const OnDiskFiles& f) {
    HashTimestamps h;
    h.hash = hash;
    if (f.data_info) {
      h.ts_data = f.data_info->timestamp;
    } else {
      h.ts_data = f.ts_info->timestamp;
      h.tombstone = true;
    }
    if (f.meta_info) h.ts_meta = f.meta_info->timestamp;
    if (f.ctype_info) h.ts_ctype = f.ctype_info->ctype_timestamp;
    out.push_back(std::move(h));
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace replicant::diskfile
