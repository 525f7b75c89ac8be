#include "diskfile/object_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/text.h"
#include "diskfile/fs_util.h"

namespace replicant::diskfile {

namespace {

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
  std::string k = LowerAscii(key);
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
  Result<std::vector<std::string>> names = fs::ListDirNames(hash_dir);
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

}  // namespace replicant::diskfile
