#include "diskfile/handoff_cleanup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "diskfile/fs_util.h"
#include "diskfile/ondisk_files.h"
#include "diskfile/invalidate.h"
#include "diskfile/timestamp.h"

namespace replicant::diskfile {
namespace {

void AddError(HandoffCleanup* out, const std::string& path, const char* what, int err) {
  out->error_paths.push_back(path);
  out->errors.push_back(std::string("Unexpected error trying to ") + what + " " + path + ": " +
                        std::strerror(err));
}

// rmdir where only "gone" and "not empty" are expected.
bool RemoveDirIfEmpty(const std::string& dir, HandoffCleanup* out) {
  if (rmdir(dir.c_str()) == 0) return true;
  if (errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST) {
    AddError(out, dir, "cleanup dir", errno);
  }
  return false;
}

// Whether `file` of a confirmed object may go: a Swift file no newer than `limit`.
bool Covered(const std::string& file, const std::optional<Timestamp>& limit) {
  if (!limit) return true;
  Result<OnDiskFile> parsed = ParseOnDiskFilename(file);
  return parsed.ok() && parsed->timestamp <= *limit;
}

}  // namespace

Result<std::vector<std::string>> ListHandoffSuffixes(const std::string& partition_dir) {
  std::vector<std::string> names, suffixes;
  int err = fs::ListDir(partition_dir, &names);
  if (err == ENOENT) return suffixes;
  if (err != 0) return Status::FromErrno("listdir " + partition_dir, err);
  for (const std::string& name : names) {
    if (name.size() != 3) continue;
    std::string path = fs::Join(partition_dir, name);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return Status::FromErrno("stat " + path, errno);
    }
    if (S_ISDIR(st.st_mode)) suffixes.push_back(name);
  }
  std::sort(suffixes.begin(), suffixes.end());
  return suffixes;
}

Result<HandoffSnapshot> ListHandoffObjects(const std::string& partition_dir,
                                           const std::vector<std::string>& suffixes) {
  HandoffSnapshot out;
  for (const std::string& suffix : suffixes) {
    std::string suffix_dir = fs::Join(partition_dir, suffix);
    std::vector<std::string> hashes;
    int err = fs::ListDir(suffix_dir, &hashes);
    if (err == ENOENT || err == ENOTDIR) continue;
    if (err != 0) return Status::FromErrno("listdir " + suffix_dir, err);
    for (const std::string& hash : hashes) {
      // Swift's layout: a hash dir ends with its suffix. Anything else is not an
      // object of this suffix and is left alone.
      if (hash.size() < suffix.size() || hash.compare(hash.size() - suffix.size(),
                                                      suffix.size(), suffix) != 0) {
        continue;
      }
      std::string hash_dir = fs::Join(suffix_dir, hash);
      HandoffObject obj{suffix, {}};
      err = fs::ListDir(hash_dir, &obj.files);
      if (err == ENOENT || err == ENOTDIR) continue;
      if (err != 0) return Status::FromErrno("listdir " + hash_dir, err);
      out.emplace(hash, std::move(obj));
    }
  }
  return out;
}

HandoffCleanup RemoveHandoffFiles(const std::string& partition_dir,
                                  const HandoffSnapshot& snapshot,
                                  const ConfirmedObjects* confirmed) {
  HandoffCleanup out;
  std::set<std::string> touched;  // suffixes an object was removed from
  for (const auto& [hash, obj] : snapshot) {
    std::optional<Timestamp> limit;
    if (confirmed) {
      auto it = confirmed->find(hash);
      if (it == confirmed->end()) continue;
      Result<Timestamp> ts = Timestamp::Parse(it->second);
      if (!ts.ok()) continue;  // nothing we can compare with: keep it
      limit = *ts;
    }
    std::set<std::string> listed(obj.files.begin(), obj.files.end());
    auto covered = [&](const std::string& file) {
      return listed.count(file) > 0 && Covered(file, limit);
    };
    std::string suffix_dir = fs::Join(partition_dir, obj.suffix);
    if (RemoveObjectIfCovered(fs::Join(suffix_dir, hash), covered, &out)) {
      ++out.removed;
      touched.insert(obj.suffix);
      (void)RemoveDirIfEmpty(suffix_dir, &out);
    }
  }
  // A suffix that lost an object but still holds others changed: hashes.pkl must not
  // keep its old hash.
  for (const std::string& suffix : touched) {
    std::string suffix_dir = fs::Join(partition_dir, suffix);
    struct stat st;
    if (stat(suffix_dir.c_str(), &st) == 0) (void)InvalidateHash(suffix_dir);
  }
  if (out.error_paths.empty()) out.partition_removed = RemovePartitionIfEmpty(partition_dir, &out);
  return out;
}

bool RemoveObjectIfCovered(const std::string& hash_dir,
                           const std::function<bool(const std::string&)>& covered,
                           HandoffCleanup* out) {
  std::vector<std::string> now;
  int err = fs::ListDir(hash_dir, &now);
  if (err == ENOENT) return true;
  if (err != 0) {
    if (err != ENOTDIR) AddError(out, hash_dir, "list", err);
    return false;
  }
  for (const std::string& file : now) {
    // A dot file is a temp file (rsync's ".<name>.XXXXXX" left by a failed transfer),
    // never a name Swift's DiskFile reads: it goes with its object, as Swift's revert
    // (rmtree of the hash dir) removes it. Left behind, it kept the object forever.
    if (!file.empty() && file[0] == '.') continue;
    if (!covered(file)) return false;
  }
  for (const std::string& file : now) {
    std::string path = fs::Join(hash_dir, file);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      AddError(out, path, "remove", errno);
      return false;
    }
  }
  // Not empty: a file arrived in the last instant; it stays for the next pass.
  return RemoveDirIfEmpty(hash_dir, out);
}

bool RemoveHeldObject(const std::string& partition_dir, const std::string& suffix,
                      const std::string& hash, const std::set<std::string>& held,
                      HandoffCleanup* out) {
  std::string suffix_dir = fs::Join(partition_dir, suffix);
  auto covered = [&](const std::string& f) { return held.count(f) > 0; };
  if (!RemoveObjectIfCovered(fs::Join(suffix_dir, hash), covered, out)) return false;
  ++out->removed;
  (void)RemoveDirIfEmpty(suffix_dir, out);
  // Gone or not, hashes.pkl must forget or rehash the suffix.
  (void)InvalidateHash(suffix_dir);
  return true;
}

bool RemovePartitionIfEmpty(const std::string& partition_dir, HandoffCleanup* out) {
  std::vector<std::string> names;
  int err = fs::ListDir(partition_dir, &names);
  if (err == ENOENT) return true;
  if (err != 0) {
    AddError(out, partition_dir, "list partition", err);
    return false;
  }
  bool dir_left = false;
  std::vector<std::string> plain;  // hashes.pkl, hashes.invalid, lock files
  for (const std::string& name : names) {
    std::string path = fs::Join(partition_dir, name);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      AddError(out, path, "stat", errno);
      return false;
    }
    if (!S_ISDIR(st.st_mode)) plain.push_back(path);
    else if (!RemoveDirIfEmpty(path, out)) dir_left = true;
  }
  if (dir_left) return false;
  for (const std::string& path : plain) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      AddError(out, path, "remove", errno);
      return false;
    }
  }
  // ENOTEMPTY: something was written meanwhile; it stays with its partition.
  if (rmdir(partition_dir.c_str()) == 0 || errno == ENOENT) return true;
  if (errno != ENOTEMPTY && errno != EEXIST) AddError(out, partition_dir, "remove", errno);
  return false;
}

}  // namespace replicant::diskfile
