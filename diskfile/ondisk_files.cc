#include "diskfile/ondisk_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "diskfile/fs_util.h"
#include "formats/pystr.h"

namespace replicant::diskfile {
namespace {

constexpr double kPrecision = 1e-5;

// os.path.splitext on a file name: the last dot wins, but leading dots are not an
// extension separator (".data" has no extension).
std::pair<std::string_view, std::string_view> SplitExt(std::string_view name) {
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return {name, {}};
  for (size_t i = 0; i < dot; ++i) {
    if (name[i] != '.') return {name.substr(0, dot), name.substr(dot)};
  }
  return {name, {}};
}

// Timestamp((base.raw + delta) * PRECISION), as decode_timestamps builds t2 and t3.
Result<Timestamp> ShiftedTimestamp(const Timestamp& base, bool negative, uint64_t magnitude) {
  __int128 raw = static_cast<__int128>(base.raw()) +
                 (negative ? -static_cast<__int128>(magnitude) : static_cast<__int128>(magnitude));
  return Timestamp::FromSeconds(static_cast<double>(raw) * kPrecision);
}

// decode_timestamps(stem, explicit=True)[:2] for a .meta file name: "t1[+/-hex[+/-hex]]".
Status DecodeMetaTimestamps(std::string_view stem, OnDiskFile* f) {
  // Split on '+', then each piece on '-', remembering each part's sign.
  std::vector<std::string_view> parts;
  std::vector<bool> negative;
  size_t start = 0;
  bool sign_negative = false;
  for (size_t i = 0; i <= stem.size(); ++i) {
    if (i == stem.size() || stem[i] == '+' || stem[i] == '-') {
      parts.push_back(stem.substr(start, i - start));
      negative.push_back(sign_negative);
      if (i < stem.size()) sign_negative = stem[i] == '-';
      start = i + 1;
    }
  }
  Result<Timestamp> t1 = Timestamp::Parse(parts[0]);
  if (!t1.ok()) return t1.status();
  f->timestamp = *t1;
  if (parts.size() > 1) {
    bool neg;
    uint64_t delta;
    if (!pystr::ParseHexInt(parts[1], &neg, &delta)) {
      return Status::InvalidArgument("invalid content-type delta");
    }
    Timestamp t2 = *t1;  // a zero delta keeps t1, offset included
    if (delta != 0) {
      Result<Timestamp> shifted = ShiftedTimestamp(*t1, neg != negative[1], delta);
      if (!shifted.ok()) return shifted.status();
      t2 = *shifted;
    }
    f->ctype_timestamp = t2;
    // The third component is validated but unused; further ones are ignored.
    if (parts.size() > 2) {
      if (!pystr::ParseHexInt(parts[2], &neg, &delta)) {
        return Status::InvalidArgument("invalid metadata delta");
      }
      if (delta != 0) {
        Result<Timestamp> t3 = ShiftedTimestamp(t2, neg != negative[2], delta);
        if (!t3.ok()) return t3.status();
      }
    }
  }
  return Status::OK();
}

using FileList = std::vector<OnDiskFile>;

// Swift's exts dict: extension -> files, in first-seen order.
struct ExtTable {
  std::vector<std::pair<std::string, FileList>> lists;
  FileList* Find(std::string_view ext) {
    for (auto& [e, l] : lists) {
      if (e == ext) return &l;
    }
    return nullptr;
  }
  FileList& Get(std::string_view ext) {
    if (FileList* l = Find(ext)) return *l;
    lists.emplace_back(std::string(ext), FileList{});
    return lists.back().second;
  }
  bool NonEmpty(std::string_view ext) {
    FileList* l = Find(ext);
    return l != nullptr && !l->empty();
  }
};

// Moves the files of `list` from the first one failing `keep` onwards to `obsolete`
// (Swift's _split_list on a newest-first list).
template <typename Pred>
void SplitOff(FileList* list, Pred keep, FileList* obsolete) {
  auto it = std::find_if_not(list->begin(), list->end(), keep);
  std::move(it, list->end(), std::back_inserter(*obsolete));
  list->erase(it, list->end());
}

// `ctype_timestamp or 0`: a missing or falsy content-type time counts as zero.
Timestamp CtypeKey(const OnDiskFile& f) {
  if (!f.ctype_timestamp) return Timestamp();
  const Timestamp& t = *f.ctype_timestamp;
  return (t.seconds() != 0 || t.offset() != 0) ? t : Timestamp();
}

}  // namespace

Result<OnDiskFile> ParseOnDiskFilename(std::string_view name) {
  OnDiskFile f;
  f.name = std::string(name);
  auto [stem, ext] = SplitExt(name);
  f.ext = std::string(ext);
  // Python sees the name as a str; undecodable bytes then never parse as numbers.
  std::string stem_str = pystr::FromFsName(stem);
  if (ext == ".meta") {
    f.kind = FileKind::kMeta;
    Status s = DecodeMetaTimestamps(stem_str, &f);
    if (!s.ok()) return s.WithContext(f.name);
    return f;
  }
  f.kind = ext == ".data" ? FileKind::kData : ext == ".ts" ? FileKind::kTombstone : FileKind::kOther;
  Result<Timestamp> t = Timestamp::Parse(stem_str);
  if (!t.ok()) return t.status().WithContext(f.name);
  f.timestamp = *t;
  return f;
}

OnDiskFiles GetOnDiskFiles(std::vector<std::string> names) {
  OnDiskFiles r;
  ExtTable exts;
  for (std::string& n : names) {
    Result<OnDiskFile> f = ParseOnDiskFilename(n);
    if (f.ok()) {
      exts.Get(f->ext).push_back(std::move(*f));
    } else {
      r.unexpected.push_back(std::move(n));
    }
  }
  auto newer = [](const OnDiskFile& a, const OnDiskFile& b) { return a.timestamp > b.timestamp; };
  for (auto& [e, l] : exts.lists) std::stable_sort(l.begin(), l.end(), newer);

  if (exts.NonEmpty(".ts")) {
    // Anything at or before the newest tombstone is obsolete; so are older tombstones.
    FileList& ts = *exts.Find(".ts");
    Timestamp newest = ts[0].timestamp;
    for (auto& [e, l] : exts.lists) {
      if (e == ".ts") continue;
      SplitOff(&l, [&](const OnDiskFile& f) { return f.timestamp > newest; }, &r.obsolete);
    }
    std::move(ts.begin() + 1, ts.end(), std::back_inserter(r.obsolete));
    ts.resize(1);
  }

  if (exts.NonEmpty(".meta")) {
    // Keep the newest .meta, plus the one with the newest content-type time if that
    // is newer than the newest .meta's (replacing it when both have the same time).
    FileList& meta = *exts.Find(".meta");
    size_t retain = 1;
    if (meta.size() > 1) {
      std::stable_sort(meta.begin() + 1, meta.end(), [](const OnDiskFile& a, const OnDiskFile& b) {
        return CtypeKey(a) > CtypeKey(b);
      });
      if (CtypeKey(meta[1]) > CtypeKey(meta[0])) {
        if (meta[1].timestamp == meta[0].timestamp) {
          std::swap(meta[0], meta[1]);
        } else {
          retain = 2;
        }
      }
    }
    std::move(meta.begin() + retain, meta.end(), std::back_inserter(r.obsolete));
    meta.resize(retain);
  }

  // DiskFileManager._process_ondisk_files (replication policy).
  if (exts.NonEmpty(".data")) {
    Timestamp newest = exts.Find(".data")->front().timestamp;
    for (auto& [e, l] : exts.lists) {
      if (e == ".data") {
        // Equal-time .data files are all kept; older ones are obsolete.
        SplitOff(&l, [&](const OnDiskFile& f) { return f.timestamp >= newest; }, &r.obsolete);
      } else {
        SplitOff(&l, [&](const OnDiskFile& f) { return f.timestamp > newest; }, &r.obsolete);
      }
    }
    r.data_info = exts.Find(".data")->front();
  }
  if (exts.NonEmpty(".meta") && !exts.NonEmpty(".data")) {
    r.possible_reclaim = *exts.Find(".meta");
  }

  if (r.data_info) {
    if (exts.NonEmpty(".meta")) {
      FileList& meta = *exts.Find(".meta");
      r.meta_info = meta.front();
      const OnDiskFile& last = meta.back();
      if (last.ctype_timestamp && *last.ctype_timestamp > r.data_info->timestamp) {
        r.ctype_info = last;
      }
    }
  } else if (exts.NonEmpty(".ts")) {
    r.ts_info = exts.Find(".ts")->front();
  }
  return r;
}

int CleanupHashDirAt(int dir_fd, const std::string& name, int64_t reclaim_age,
                     double now_seconds, CleanupResult* out) {
  *out = CleanupResult();
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::vector<std::string> files;
  int err = fd < 0 ? errno : fs::ListDirFd(fd, &files);
  if (fd >= 0) close(fd);
  if (err == ENOENT) return err;  // out stays empty, as Swift's result for a vanished dir
  if (err != 0) return err;

  fs::SortPythonOrder(&files, /*reverse=*/true);
  out->files = GetOnDiskFiles(files);
  OnDiskFiles& r = out->files;
  std::string prefix = name + "/";
  auto reclaimable = [&](const Timestamp& t) {
    return now_seconds - t.seconds() > static_cast<double>(reclaim_age);
  };
  auto forget = [&](const std::string& n) {
    auto it = std::find(files.begin(), files.end(), n);
    if (it != files.end()) files.erase(it);
  };
  // Unlink errors are ignored, as Swift's remove_file does; the name is dropped anyway.
  if (r.ts_info && reclaimable(r.ts_info->timestamp)) {
    unlinkat(dir_fd, (prefix + r.ts_info->name).c_str(), 0);
    forget(r.ts_info->name);
    r.ts_info.reset();
  }
  for (const OnDiskFile& f : r.possible_reclaim) {
    if (reclaimable(f.timestamp)) r.obsolete.push_back(f);
  }
  for (const OnDiskFile& f : r.obsolete) {
    unlinkat(dir_fd, (prefix + f.name).c_str(), 0);
    forget(f.name);
  }
  if (files.empty()) {
    out->dir_removed = unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) == 0;
  }
  out->remaining = std::move(files);
  return 0;
}

Result<CleanupResult> CleanupOnDiskFiles(const std::string& hash_dir, int64_t reclaim_age,
                                         double now_seconds) {
  CleanupResult r;
  int err = CleanupHashDirAt(AT_FDCWD, hash_dir, reclaim_age, now_seconds, &r);
  if (err == ENOTDIR) return Status::InvalidArgument(hash_dir + ": not a directory");
  if (err != 0) return Status::FromErrno("listdir " + hash_dir, err);
  return r;
}

std::string OnDiskFilename(const Timestamp& ts, std::string_view ext,
                           const std::optional<Timestamp>& ctype_ts) {
  // Timestamp.short is internal unless FORCE_INTERNAL, which is off.
  std::string name = ts.internal();
  if (ext == "meta" && ctype_ts) {
    // encode_timestamps(t, ctype, explicit=True): '{:+x}' of the raw delta.
    int64_t delta = ctype_ts->raw() - ts.raw();
    char buf[24];
    std::snprintf(buf, sizeof buf, "%c%llx", delta < 0 ? '-' : '+',
                  static_cast<unsigned long long>(delta < 0 ? -delta : delta));
    name += buf;
  }
  name += '.';
  name += ext;
  return name;
}

}  // namespace replicant::diskfile
