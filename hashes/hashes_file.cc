#include "hashes/hashes_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include "base/text.h"
#include "diskfile/fs_util.h"
#include "diskfile/invalidate.h"
#include "diskfile/partition_lock.h"
#include "formats/pickle_flat.h"
#include "formats/pystr.h"
#include "hashes/partition_hashes.h"

namespace replicant::hashes {

using diskfile::kInvalidationsFile;
using diskfile::PartitionLock;
namespace fs = diskfile::fs;

namespace {

constexpr const char* kHashFile = "hashes.pkl";

HashesDict Invalid() {
  HashesDict d;
  d.Set("valid", pickle::Value::Bool(false));
  return d;
}

// read_hashes' defaults, once the file's own entries are in.
HashesDict WithDefaults(HashesDict d) {
  d.as_on_disk = d.Get("valid") != nullptr && d.Get("updated") != nullptr;
  d.SetDefault("valid", pickle::Value::Bool(true));
  d.SetDefault("updated", pickle::Value::Int(-1));
  return d;
}

// Text-mode iteration with universal newlines: "\r\n", "\r" and "\n" each end a line.
std::vector<std::string_view> UniversalLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r' && text[i] != '\n') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

double TimeNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

const pickle::Value* HashesDict::Get(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].value;
}

void HashesDict::Set(const std::string& key, pickle::Value v) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].value = std::move(v);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.push_back(Entry{key, std::move(v), true});
}

void HashesDict::SetDefault(const std::string& key, pickle::Value v) {
  if (index_.find(key) == index_.end()) Set(key, std::move(v));
}

void HashesDict::Erase(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  entries_[it->second].live = false;
  entries_[it->second].value = pickle::Value();
  index_.erase(it);
}

std::vector<std::string> HashesDict::Keys() const {
  std::vector<std::string> keys;
  keys.reserve(index_.size());
  for (const Entry& e : entries_) {
    if (e.live) keys.push_back(e.key);
  }
  return keys;
}

bool HashesDict::AnyStale() const {
  for (const Entry& e : entries_) {
    if (e.live && !Truthy(&e.value) && e.key != "valid" && e.key != "updated") return true;
  }
  return false;
}

bool HashesDict::Equals(const HashesDict& other) const {
  if (size() != other.size()) return false;
  for (const Entry& e : entries_) {
    if (!e.live) continue;
    const pickle::Value* o = other.Get(e.key);
    if (o == nullptr) return false;
    bool both_nan = e.value.type() == pickle::Value::Type::kFloat &&
                    o->type() == pickle::Value::Type::kFloat && std::isnan(e.value.as_float()) &&
                    std::isnan(o->as_float());
    if (!both_nan && !(e.value == *o)) return false;
  }
  return true;
}

pickle::Value HashesDict::ToPickle(bool drop_valid_updated) const {
  pickle::Dict items;
  items.reserve(index_.size());
  for (const Entry& e : entries_) {
    if (!e.live) continue;
    if (drop_valid_updated && (e.key == "valid" || e.key == "updated")) continue;
    items.emplace_back(pickle::Value::Str(e.key), e.value);
  }
  return pickle::Value::MakeDict(std::move(items));
}

bool Truthy(const pickle::Value* v) {
  if (v == nullptr) return false;
  using T = pickle::Value::Type;
  switch (v->type()) {
    case T::kNone: return false;
    case T::kBool: return v->as_bool();
    case T::kInt: return v->as_int() != 0;
    case T::kFloat: return v->as_float() != 0.0;  // NaN is truthy, as in Python
    case T::kStr: case T::kBytes: return !v->as_string().empty();
    case T::kList: case T::kTuple: return !v->items().empty();
    case T::kDict: return !v->dict().empty();
  }
  return false;
}

bool ValidSuffix(const std::string& key) { return key.size() == 3 && IsLowerHex(key); }

HashesDict ReadHashes(const std::string& partition_dir) {
  std::string data;
  if (fs::ReadFile(fs::Join(partition_dir, kHashFile), &data) != 0) return Invalid();
  return ParseHashes(data);
}

HashesDict ReadHashesAt(int partition_fd) {
  std::string data;
  if (fs::ReadFileAt(partition_fd, kHashFile, &data) != 0) return Invalid();
  return ParseHashes(data);
}

HashesDict ParseHashes(std::string_view data) {
  HashesDict d;
  // Swift's own hashes.pkl (and ours) takes the flat path, without a Value tree.
  if (auto flat = pickle::LoadFlatDict(data)) {
    for (const auto& e : *flat) {
      std::string k(e.key);
      if (!ValidSuffix(k) && k != "valid" && k != "updated") return Invalid();
      d.Set(k, pickle::ToValue(e.value));
    }
    return WithDefaults(std::move(d));
  }
  Result<pickle::Value> v = pickle::Loads(data);
  // Swift crashes on some non-dict pickles (a list, an int); we call them invalid.
  if (!v.ok() || !v->is_dict()) return Invalid();
  for (const auto& [key, value] : v->dict()) {
    // bytes keys (and any non-str) break the "valid suffix" check.
    if (!key.is_str()) return Invalid();
    const std::string& k = key.as_string();
    if (!ValidSuffix(k) && k != "valid" && k != "updated") return Invalid();
    d.Set(k, value);
  }
  return WithDefaults(std::move(d));
}

Status WriteHashes(const std::string& partition_dir, HashesDict* hashes) {
  hashes->SetDefault("valid", pickle::Value::Bool(false));
  hashes->Set("updated", pickle::Value::Float(TimeNow()));
  std::string data = pickle::Dumps(hashes->ToPickle());
  if (int err = fs::MakeDirs(partition_dir); err != 0) {
    return Status::FromErrno("mkdirs " + partition_dir, err);
  }
  std::string tmp = fs::Join(partition_dir, "tmpXXXXXX.tmp");
  int fd = mkostemps(tmp.data(), 4, O_CLOEXEC);  // 0600, like Python's mkstemp
  if (fd < 0) return Status::FromErrno("mkstemp in " + partition_dir, errno);
  std::string dest = fs::Join(partition_dir, kHashFile);
  int err = fs::WriteAll(fd, data);
  if (err == 0 && fsync(fd) != 0) err = errno;
  if (err == 0 && rename(tmp.c_str(), dest.c_str()) != 0) err = errno;
  close(fd);
  if (err != 0) {
    unlink(tmp.c_str());
    return Status::FromErrno("write " + dest, err);
  }
  fs::FsyncDir(partition_dir);
  return Status::OK();
}

Result<HashesDict> ConsolidateHashes(const std::string& partition_dir, double lock_timeout,
                                     int partition_fd) {
  std::string path = fs::Join(partition_dir, kInvalidationsFile);
  std::string text;
  // Nothing to consolidate (the common case): read hashes.pkl without the lock. The
  // invalidations are read first, so a consolidation racing us can only make the
  // hashes.pkl we then read newer, never lose an entry; an invalidation appended after
  // our read is one a locked call a moment earlier would have missed as well.
  int err = partition_fd >= 0 ? fs::ReadFileAt(partition_fd, kInvalidationsFile, &text)
                              : fs::ReadFile(path, &text);
  if (err == ENOENT || (err == 0 && text.empty())) {
    return partition_fd >= 0 ? ReadHashesAt(partition_fd) : ReadHashes(partition_dir);
  }

  Result<PartitionLock> lock = PartitionLock::Acquire(partition_dir, lock_timeout);
  if (!lock.ok()) return lock.status();
  HashesDict hashes = ReadHashes(partition_dir);
  err = fs::ReadFile(path, &text);
  if (err == ENOENT) return hashes;
  if (err != 0) return Status::FromErrno("read " + path, err);
  if (!pystr::IsStrictUtf8(text)) return Status::Corruption(path + ": not UTF-8");
  std::vector<std::string_view> lines = UniversalLines(text);
  if (lines.empty()) return hashes;
  // Every line counts, even one that is not a suffix (see the "poison" note in
  // partition_hashes.cc).
  for (std::string_view line : lines) hashes.Set(std::string(pystr::Strip(line)), pickle::Value());
  if (Status s = WriteHashes(partition_dir, &hashes); !s.ok()) return s;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return Status::FromErrno("truncate " + path, errno);
  close(fd);
  return hashes;
}

}  // namespace replicant::hashes
