// GetHashes: Swift 2.30's BaseDiskFileManager.__get_hashes, step by step.
//
// Notes on behaviours that look like bugs but are Swift's, kept on purpose:
// - Truthy values in a valid hashes.pkl are trusted even when their suffix dir is
//   gone; only falsy ones (None, '') are rehashed.
// - "Poison": consolidation stores every hashes.invalid line as a key, including ones
//   read_hashes() then rejects ('abcd', 'ABC', ''). The final re-read under the lock
//   therefore differs from what we started from, so the pass is redone; the redo
//   starts from an invalid pickle, which drops every stale entry and the odd key.
#include "hashes/partition_hashes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "diskfile/fd.h"
#include "diskfile/fs_util.h"
#include "hashes/hashes_file.h"
#include "diskfile/partition_lock.h"
#include "formats/pystr.h"
#include "diskfile/quarantine.h"
#include "hashes/suffix_hash.h"

namespace replicant::hashes {

namespace fs = diskfile::fs;

namespace {

constexpr int kMaxAttempts = 16;

// A key we are willing to join onto the partition path. Swift would also "hash" '',
// '.', '..' or 'a/b', walking (and quarantining files in) the partition, the objects
// dir or beyond; such keys can only come from hashes.invalid, and their pass is
// discarded by the poison re-check anyway, so skipping them changes no result.
bool SafeName(const std::string& key) {
  return !key.empty() && key != "." && key != ".." && key.find('/') == std::string::npos &&
         key.find('\0') == std::string::npos;
}

double TimeNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct HashAttempt {
  bool done = false;  // false: lost the race, run again
  GetHashesResult result;
};

// The listing step: every 3-character entry of the partition dir becomes a key (None
// unless already known); with *take_listing, the listed names also join *recalculate
// (once: the flag is then cleared). partition_fd, when open, is listed from its start
// rather than walking the path again.
Status AddListedSuffixes(const std::string& part, int partition_fd, HashesDict* hashes,
                         std::vector<std::string>* recalculate, bool* take_listing) {
  std::vector<std::string> names;
  int err;
  if (partition_fd < 0) {
    err = fs::ListDir(part, &names);
  } else {
    err = lseek(partition_fd, 0, SEEK_SET) < 0 ? errno : fs::ListDirFd(partition_fd, &names);
  }
  if (err != 0) {
    return Status::FromErrno("listdir " + part, err);
  }
  std::vector<std::string> listed;
  for (const std::string& raw : names) {
    std::string key = pystr::FromFsName(raw);
    if (pystr::Length(key) != 3) continue;
    hashes->SetDefault(key, pickle::Value());
    if (*take_listing) listed.push_back(std::move(key));
  }
  if (*take_listing) {
    recalculate->insert(recalculate->end(), listed.begin(), listed.end());
    *take_listing = false;
  }
  return Status::OK();
}

// Hashes every suffix whose value is not truthy (a key that cannot name a dir goes);
// true when there was one.
bool RehashStale(const SuffixContext& ctx, HashesDict* hashes, GetHashesResult* result) {
  if (!hashes->AnyStale()) return false;
  bool any = false;
  for (const std::string& key : hashes->Keys()) {
    if (key == "valid" || key == "updated") continue;
    if (Truthy(hashes->Get(key))) continue;
    any = true;
    std::string raw;
    if (!SafeName(key) || !pystr::ToFsName(key, &raw)) {
      hashes->Erase(key);
      continue;
    }
    SuffixHash h = HashSuffix(ctx, raw);
    switch (h.outcome) {
      case SuffixOutcome::kHashed:
        hashes->Set(key, pickle::Value::Str(h.md5));
        ++result->hashed;
        break;
      case SuffixOutcome::kPathNotDir:
        hashes->Erase(key);
        break;
      case SuffixOutcome::kError:
        result->errors.push_back(h.error);
        break;
    }
  }
  return any;
}

// One run of __get_hashes (Swift recurses when hashes.pkl changed under it; we loop
// over attempts). partition_fd: the partition dir, open, or -1. *take_listing: use
// this attempt's listing as the recalculate list (then cleared, so later attempts
// reuse it, as Swift's recursion does).
Result<HashAttempt> TryGetHashes(const SuffixContext& base_ctx, int partition_fd,
                                 std::vector<std::string>* recalculate, bool* do_listdir,
                                 bool* take_listing, const GetHashesOptions& opts) {
  const std::string& part = base_ctx.partition_dir;
  HashAttempt attempt;
  bool modified = false;

  HashesDict orig;
  Result<HashesDict> consolidated = ConsolidateHashes(part, opts.lock_timeout, partition_fd);
  if (consolidated.ok()) {
    orig = std::move(*consolidated);
  } else if (consolidated.status().code() == Status::Code::kUnavailable) {
    return consolidated.status();  // lock timeout: Swift's LockTimeout is not caught
  } else {
    orig.Set("valid", pickle::Value::Bool(false));  // Swift: "Unable to read"
  }

  HashesDict hashes;
  if (Truthy(orig.Get("valid")) && !*do_listdir && recalculate->empty() && !orig.AnyStale()) {
    // An idle partition (most of a pass): nothing to list, rehash or write; its result
    // is the pickle as read, without the copy a pass that changes it needs.
    hashes = std::move(orig);
  } else if (!Truthy(orig.Get("valid"))) {
    // The only way from an invalid pickle to a valid one: a full listing, and the
    // final write only if the pickle is still exactly as invalid as now.
    *do_listdir = true;
    hashes.Set("valid", pickle::Value::Bool(true));
    orig = ReadHashes(part);
  } else {
    hashes = orig;
  }

  if (*do_listdir) {
    if (Status st = AddListedSuffixes(part, partition_fd, &hashes, recalculate,
                                      take_listing); !st.ok()) {
      return st;
    }
    modified = true;
  }
  for (const std::string& s : *recalculate) hashes.Set(s, pickle::Value());

  SuffixContext ctx = base_ctx;
  ctx.now = TimeNow();
  if (RehashStale(ctx, &hashes, &attempt.result)) modified = true;

  // Swift rewrites hashes.pkl whenever it listed the partition or rehashed a suffix,
  // even when nothing came out different; the only change would then be 'updated',
  // which nothing reads. Skipping that write spares an idle pass a temp file, two
  // fsyncs and a rename on one partition in ten (the listdir ones). A file that lacked
  // 'valid' or 'updated' is rewritten, as Swift does, so it gains them.
  if (modified && orig.as_on_disk && hashes.Equals(orig)) modified = false;
  if (modified) {
    Result<diskfile::PartitionLock> lock = diskfile::PartitionLock::Acquire(part, opts.lock_timeout);
    if (!lock.ok()) return lock.status();
    if (!ReadHashes(part).Equals(orig)) return attempt;  // someone else wrote: start over
    if (Status s = WriteHashes(part, &hashes); !s.ok()) return s;
  }
  attempt.done = true;
  if (opts.want_dict) attempt.result.dict = hashes.ToPickle(/*drop_valid_updated=*/true);
  if (opts.want_hashes) {
    hashes.ForEach([&](const std::string& k, const pickle::Value& v) {
      if (v.is_str() && k != "valid" && k != "updated") {
        attempt.result.hashes.emplace_hint(attempt.result.hashes.end(), k, v.as_string());
      }
    });
  }
  return attempt;
}

}  // namespace

Result<GetHashesResult> GetHashes(const std::string& partition_dir, const GetHashesOptions& opts) {
  SuffixContext ctx;
  ctx.partition_dir = fs::StripTrailingSlashes(partition_dir);
  ctx.device_path = fs::Dirname(fs::Dirname(ctx.partition_dir));
  ctx.policy_index = diskfile::PolicyIndexOfPartition(ctx.partition_dir);
  ctx.reclaim_age = opts.reclaim_age;

  // Opened rather than stat'ed: an idle partition's two reads then go through it,
  // without walking the long path twice more (most of an idle pass's system time on a
  // big tree). A non-directory takes the path-only way, as before.
  diskfile::UniqueFd dir(open(ctx.partition_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) {
    if (errno == ENOENT) {
      GetHashesResult empty;
      empty.dict = pickle::Value::MakeDict();
      return empty;
    }
    struct stat st;
    if (errno != ENOTDIR || stat(ctx.partition_dir.c_str(), &st) != 0) {
      return Status::FromErrno("stat " + ctx.partition_dir, errno);
    }
  }

  std::vector<std::string> recalculate = opts.recalculate;
  bool do_listdir = opts.do_listdir;
  bool take_listing = opts.recalculate_listed && opts.do_listdir;
  for (int i = 0; i < kMaxAttempts; ++i) {
    Result<HashAttempt> p = TryGetHashes(ctx, dir.get(), &recalculate, &do_listdir, &take_listing,
                                         opts);
    if (!p.ok()) return p.status().WithContext(ctx.partition_dir);
    if (p->done) return std::move(p->result);
  }
  return Status::Unavailable(ctx.partition_dir + ": hashes.pkl kept changing during " +
                             std::to_string(kMaxAttempts) + " attempts");
}

}  // namespace replicant::hashes
