#include "hashes/diskfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "hashes/partition_hashes.h"
#include "hashes/quarantine.h"

namespace replicant::hashes {

void UniqueFd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

// ---- Paths ----

namespace {

std::string PolicyString(const char* base, int policy_index) {
  return policy_index == 0 ? std::string(base)
                           : std::string(base) + "-" + std::to_string(policy_index);
}


// Entry names of a directory ("." and ".." excluded); errno-style status.
Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return Status::FromErrno("listdir " + dir, errno);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int err = errno;
  closedir(d);
  if (err != 0) return Status::FromErrno("listdir " + dir, err);
  return names;
}

// Python's int(s, 16) acceptance, which yield_suffixes uses to vet suffix names.
bool PythonHexInt(std::string_view s) {
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  bool prev_underscore = true;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    prev_underscore = false;  // "0x_1" is valid
  }
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '_') {
      if (prev_underscore) return false;
      prev_underscore = true;
    } else if (isxdigit(static_cast<unsigned char>(c))) {
      prev_underscore = false;
    } else {
      return false;
    }
  }
  return !prev_underscore;
}

bool IsPythonSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Python int(s) for metadata values such as Content-Length; nullopt when invalid.
std::optional<int64_t> PythonInt(std::string_view s) {
  while (!s.empty() && IsPythonSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsPythonSpace(s.back())) s.remove_suffix(1);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.front() == '_' || s.back() == '_') return std::nullopt;
  int64_t v = 0;
  char prev = 0;
  for (char c : s) {
    if (c == '_') {
      if (prev == '_') return std::nullopt;
    } else if (c >= '0' && c <= '9') {
      if (v > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
      v = v * 10 + (c - '0');
    } else {
      return std::nullopt;
    }
    prev = c;
  }
  return neg ? -v : v;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string DataDirName(int policy_index) { return PolicyString("objects", policy_index); }
std::string TmpDirName(int policy_index) { return PolicyString("tmp", policy_index); }

std::string_view SuffixOf(std::string_view hash) {
  return hash.size() <= 3 ? hash : hash.substr(hash.size() - 3);
}

std::string PartitionDirFor(std::string_view devices, std::string_view device,
                            int policy_index, uint64_t partition) {
  std::string p(devices);
  p += '/';
  p += device;
  p += '/';
  p += DataDirName(policy_index);
  p += '/';
  p += std::to_string(partition);
  return p;
}

std::string HashDirFor(std::string_view devices, std::string_view device, int policy_index,
                       uint64_t partition, std::string_view hash) {
  std::string p = PartitionDirFor(devices, device, policy_index, partition);
  p += '/';
  p += SuffixOf(hash);
  p += '/';
  p += hash;
  return p;
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

// ---- Reading ----

namespace {

// Swift's Timestamp comparisons against a metadata string, where a missing value
// (None) is older than anything. Unparseable values are Corruption.
Result<std::optional<Timestamp>> MetaTimestamp(const Metadata& md, std::string_view key) {
  const std::string* v = md.Get(key);
  if (!v) return std::optional<Timestamp>();
  Result<Timestamp> ts = Timestamp::Parse(*v);
  if (!ts.ok()) return ts.status().WithContext(std::string(key));
  return std::optional<Timestamp>(*ts);
}

bool IsDatafileSysMeta(const std::string& key) {
  std::string k = Lower(key);
  if (k == "content-length" || k == "deleted" || k == "etag" || k == "x-static-large-object") {
    return true;
  }
  // is_sys_meta('object', key): longer than the prefix and starting with it.
  static constexpr std::string_view kPrefix = "x-object-sysmeta-";
  return k.size() > kPrefix.size() && k.compare(0, kPrefix.size(), kPrefix) == 0;
}

// _merge_content_type_metadata: a second .meta holding a newer Content-Type.
Status MergeContentType(const std::string& ctype_file, const Timestamp& data_ts,
                        Metadata* meta) {
  Result<Metadata> ctype_md = ReadMetadataFile(ctype_file);
  if (!ctype_md.ok()) return ctype_md.status();
  const std::string* ctype = ctype_md->Get("Content-Type");
  std::string ctype_ts_text = ctype_md->GetOr("Content-Type-Timestamp", "");
  // Swift compares the two Content-Type-Timestamp strings as strings here.
  if (!ctype || !(ctype_ts_text > meta->GetOr("Content-Type-Timestamp", ""))) {
    return Status::OK();
  }
  Result<Timestamp> ctype_ts = Timestamp::Parse(ctype_ts_text);
  if (!ctype_ts.ok()) return ctype_ts.status().WithContext(ctype_file);
  if (*ctype_ts > data_ts) {
    meta->Set("Content-Type", *ctype);
    meta->Set("Content-Type-Timestamp", ctype_ts_text);
  }
  return Status::OK();
}

Status FillFromDataFile(OpenedObject* obj) {
  const OnDiskFiles& f = obj->files;
  obj->data_fd = UniqueFd(open(obj->data_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (obj->data_fd.get() < 0) return Status::FromErrno("open " + obj->data_file, errno);
  Result<Metadata> data_md = ReadMetadata(obj->data_fd.get());
  if (!data_md.ok()) return data_md.status().WithContext(obj->data_file);
  obj->datafile_metadata = std::move(*data_md);
  const Metadata& dmd = obj->datafile_metadata;

  Result<std::optional<Timestamp>> data_ts = MetaTimestamp(dmd, "X-Timestamp");
  if (!data_ts.ok()) return data_ts.status().WithContext(obj->data_file);
  obj->data_timestamp = data_ts->value_or(f.data_info->timestamp);

  if (f.meta_info) {
    std::string meta_file = obj->hash_dir + "/" + f.meta_info->name;
    Result<Metadata> meta_md = ReadMetadataFile(meta_file);
    if (!meta_md.ok()) return meta_md.status();
    Metadata meta = std::move(*meta_md);
    if (f.ctype_info && f.ctype_info->name != f.meta_info->name) {
      Status s = MergeContentType(obj->hash_dir + "/" + f.ctype_info->name,
                                  obj->data_timestamp, &meta);
      if (!s.ok()) return s;
    }
    obj->metadata = meta;
    for (const auto& [k, v] : dmd) {
      if (IsDatafileSysMeta(k)) obj->metadata.Set(k, v);
    }
    meta.Erase("name");  // the writer added it to the .meta; Swift drops it here
    Result<std::optional<Timestamp>> meta_ctype_ts = MetaTimestamp(meta, "Content-Type-Timestamp");
    if (!meta_ctype_ts.ok()) return meta_ctype_ts.status().WithContext(meta_file);
    const std::string* data_ctype = dmd.Get("Content-Type");
    // data_timestamp > None is true: a .meta without a content-type timestamp
    // never overrides the .data's Content-Type.
    if (data_ctype && (!*meta_ctype_ts || obj->data_timestamp > **meta_ctype_ts)) {
      obj->metadata.Set("Content-Type", *data_ctype);
      obj->metadata.Erase("Content-Type-Timestamp");
    }
    obj->metafile_metadata = std::move(meta);
  } else {
    obj->metadata = dmd;
  }

  Result<std::optional<Timestamp>> ts = MetaTimestamp(obj->metadata, "X-Timestamp");
  if (!ts.ok()) return ts.status().WithContext(obj->data_file);
  obj->timestamp = ts->value_or(obj->data_timestamp);

  // _verify_data_file: where Swift quarantines.
  if (const std::string* d = obj->metadata.Get("X-Delete-At")) {
    std::optional<int64_t> at = PythonInt(*d);
    if (!at) return Status::Corruption("bad metadata x-delete-at value " + *d);
    obj->delete_at = at;
  }
  const std::string* cl = obj->metadata.Get("Content-Length");
  if (!cl) return Status::Corruption("missing content-length in metadata");
  std::optional<int64_t> length = PythonInt(*cl);
  if (!length) return Status::Corruption("bad metadata content-length value " + *cl);
  struct stat st;
  if (fstat(obj->data_fd.get(), &st) != 0) {
    return Status::Corruption("not stat-able: " + Status::FromErrno("fstat", errno).message());
  }
  if (*length != st.st_size) {
    return Status::Corruption("metadata content-length " + *cl +
                              " does not match actual object size " +
                              std::to_string(st.st_size));
  }
  obj->content_length = static_cast<uint64_t>(st.st_size);
  return Status::OK();
}

}  // namespace

Result<OpenedObject> OpenObject(const std::string& hash_dir) {
  OpenedObject obj;
  obj.hash_dir = hash_dir;
  Result<std::vector<std::string>> names = ListDir(hash_dir);
  if (!names.ok()) {
    if (names.status().IsNotFound()) return Status::NotFound("no object at " + hash_dir);
    struct stat st;
    if (stat(hash_dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      return Status::Corruption("Expected directory, found file at " + hash_dir);
    }
    return names.status();
  }
  obj.files = GetOnDiskFiles(std::move(*names));
  if (obj.files.data_info) {
    obj.data_file = hash_dir + "/" + obj.files.data_info->name;
    Status s = FillFromDataFile(&obj);
    if (!s.ok()) {
      // The file may have been cleaned up since we listed: that is "not found".
      if (s.IsNotFound()) return Status::NotFound("no object at " + hash_dir);
      return s.code() == Status::Code::kCorruption ? s.WithContext(obj.data_file) : s;
    }
    return obj;
  }
  if (!obj.files.ts_info) return Status::NotFound("no object at " + hash_dir);
  std::string ts_file = hash_dir + "/" + obj.files.ts_info->name;
  Result<Metadata> md = ReadMetadataFile(ts_file);
  if (!md.ok()) return md.status();
  obj.tombstone = true;
  obj.metadata = std::move(*md);
  obj.data_timestamp = obj.files.ts_info->timestamp;
  Result<std::optional<Timestamp>> ts = MetaTimestamp(obj.metadata, "X-Timestamp");
  obj.timestamp = ts.ok() && *ts ? **ts : obj.data_timestamp;
  return obj;
}

Result<std::string> QuarantineHashDir(const std::string& device_path,
                                      const std::string& hash_dir, int policy_index) {
  // quarantine_renamer moves the dir enclosing the path it is given: Swift's
  // "made-up-filename" trick names the hash dir itself.
  return QuarantineRenamer(device_path, hash_dir + "/made-up-filename", policy_index);
}

// ---- Listing ----

std::vector<std::string> ListSuffixes(const std::string& partition_dir) {
  std::vector<std::string> out;
  Result<std::vector<std::string>> names = ListDir(partition_dir);
  if (!names.ok()) return out;
  for (std::string& n : *names) {
    if (n.size() == 3 && PythonHexInt(n)) out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<HashTimestamps>> YieldHashes(const std::string& suffix_dir,
                                                int64_t reclaim_age, double now_seconds) {
  std::vector<HashTimestamps> out;
  Result<std::vector<std::string>> names = ListDir(suffix_dir);
  if (!names.ok() && !names.status().IsNotFound()) return names.status();
  std::vector<std::string> hashes = names.ok() ? std::move(*names) : std::vector<std::string>{};
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
    const OnDiskFiles& f = c->files;
    HashTimestamps h;
    h.hash = hash;
    if (f.data_info) {
      h.ts_data = f.data_info->timestamp;
    } else if (f.ts_info) {
      h.ts_data = f.ts_info->timestamp;
      h.tombstone = true;
    } else {
      continue;  // no .data or .ts: cannot be opened, so not replicated by ssync
    }
    if (f.meta_info) h.ts_meta = f.meta_info->timestamp;
    if (f.ctype_info) h.ts_ctype = f.ctype_info->ctype_timestamp;
    out.push_back(std::move(h));
  }
  // Empty hash dirs were removed by the cleanup; let the next rehash drop the suffix.
  if (!found_files) {
    Status s = InvalidateHash(suffix_dir);
    if (!s.ok() && names.ok()) return s;
  }
  return out;
}

}  // namespace replicant::hashes
