#include "diskfile/object_metadata.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>

#include "formats/peer_message.h"
#include "formats/pickle.h"

namespace replicant::diskfile {

// ---- Metadata ----

Metadata::Metadata(std::initializer_list<Entry> entries) {
  for (const auto& [k, v] : entries) Set(k, v);
}

const std::string* Metadata::Get(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.first == key) return &e.second;
  }
  return nullptr;
}

std::string Metadata::GetOr(std::string_view key, std::string_view fallback) const {
  const std::string* v = Get(key);
  return v ? *v : std::string(fallback);
}

void Metadata::Set(std::string_view key, std::string value) {
  for (auto& e : entries_) {
    if (e.first == key) {
      e.second = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::string(key), std::move(value));
}

bool Metadata::Erase(std::string_view key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == key) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

void Metadata::Update(const Metadata& other) {
  for (const auto& [k, v] : other) Set(k, v);
}

bool Metadata::operator==(const Metadata& other) const {
  if (size() != other.size()) return false;
  for (const auto& [k, v] : entries_) {
    const std::string* ov = other.Get(k);
    if (!ov || *ov != v) return false;
  }
  return true;
}

std::string DigestHex(const unsigned char* digest, size_t len) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

namespace {

std::string Md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return DigestHex(digest, len);
}

// ---- Encoding: CPython's C pickler, protocol 2, on a dict of bytes ----
//
// Protocol 2 has no bytes opcode, so CPython pickles bytes b as the reduce
// _codecs.encode(b.decode('latin1'), 'latin1') (or __builtin__.bytes() when empty),
// and memoizes every object it saves by identity. To be byte-identical we track
// the same identities: the two globals and the 'latin1' string recur, and bytes of
// length 0 or 1 are CPython singletons, so repeated short values become BINGETs.
class MetadataPickler {
 public:
  std::string Dump(const Metadata& md) {
    out_ = "\x80\x02}";  // PROTO 2, EMPTY_DICT
    Put();               // the dict itself
    const auto& entries = md.entries();
    if (entries.size() == 1) {
      SaveBytes(entries[0].first);
      SaveBytes(entries[0].second);
      out_ += 's';  // SETITEM
    } else if (entries.size() > 1) {
      // batch_dict_exact: MARK ... SETITEMS per 1000 items; a full last batch is
      // followed by an empty MARK SETITEMS, as CPython's loop does.
      constexpr size_t kBatch = 1000;
      size_t i = 0;
      size_t in_batch;
      do {
        out_ += '(';
        in_batch = 0;
        while (i < entries.size() && in_batch < kBatch) {
          SaveBytes(entries[i].first);
          SaveBytes(entries[i].second);
          ++i;
          ++in_batch;
        }
        out_ += 'u';
      } while (in_batch == kBatch);
    }
    out_ += '.';
    return std::move(out_);
  }

 private:
  void Uint32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  uint32_t Put() {
    uint32_t idx = next_memo_++;
    if (idx < 256) {
      out_ += 'q';
      out_ += static_cast<char>(idx);
    } else {
      out_ += 'r';
      Uint32(idx);
    }
    return idx;
  }
  void Get(uint32_t idx) {
    if (idx < 256) {
      out_ += 'h';
      out_ += static_cast<char>(idx);
    } else {
      out_ += 'j';
      Uint32(idx);
    }
  }
  void BinUnicode(std::string_view utf8) {
    out_ += 'X';
    Uint32(static_cast<uint32_t>(utf8.size()));
    out_ += utf8;
  }
  void Global(std::optional<uint32_t>* memo, const char* module_and_name) {
    if (*memo) {
      Get(**memo);
    } else {
      out_ += 'c';
      out_ += module_and_name;
      *memo = Put();
    }
  }

  void SaveBytes(const std::string& b) {
    std::optional<uint32_t>* singleton = nullptr;
    if (b.size() <= 1) {
      singleton = b.empty() ? &empty_bytes_ : &byte_[static_cast<unsigned char>(b[0])];
      if (*singleton) {
        Get(**singleton);
        return;
      }
    }
    if (b.empty()) {
      Global(&bytes_global_, "__builtin__\nbytes\n");
      out_ += ')';  // EMPTY_TUPLE (never memoized)
    } else {
      Global(&encode_global_, "_codecs\nencode\n");
      std::string latin1;  // b.decode('latin1'), as UTF-8
      for (unsigned char c : b) {
        if (c < 0x80) {
          latin1 += static_cast<char>(c);
        } else {
          latin1 += static_cast<char>(0xc0 | (c >> 6));
          latin1 += static_cast<char>(0x80 | (c & 0x3f));
        }
      }
      BinUnicode(latin1);
      Put();
      if (latin1_str_) {
        Get(*latin1_str_);
      } else {
        BinUnicode("latin1");
        latin1_str_ = Put();
      }
      out_ += '\x86';  // TUPLE2
      Put();
    }
    out_ += 'R';  // REDUCE
    uint32_t idx = Put();
    if (singleton) *singleton = idx;
  }

  std::string out_;
  uint32_t next_memo_ = 0;
  std::optional<uint32_t> encode_global_, bytes_global_, latin1_str_, empty_bytes_;
  std::optional<uint32_t> byte_[256];
};

// What py3 Swift ends up writing for a str: s.encode('utf8', 'surrogateescape').
// Pickled str is UTF-8 with surrogatepass, so the escapes U+DC80..U+DCFF arrive
// as ED B2 80 .. ED B3 BF and map back to the single raw bytes 0x80..0xFF.
std::string StrToSwiftBytes(const std::string& utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto c0 = static_cast<unsigned char>(utf8[i]);
    if (c0 == 0xed && i + 2 < utf8.size()) {
      auto c1 = static_cast<unsigned char>(utf8[i + 1]);
      auto c2 = static_cast<unsigned char>(utf8[i + 2]);
      if ((c1 == 0xb2 || c1 == 0xb3) && (c2 & 0xc0) == 0x80) {
        out += static_cast<char>(0x80 | ((c1 & 1) << 6) | (c2 & 0x3f));
        i += 2;
        continue;
      }
    }
    out += utf8[i];
  }
  return out;
}

Result<std::string> ToSwiftString(const pickle::Value& v) {
  switch (v.type()) {
    case pickle::Value::Type::kBytes: return v.as_string();
    case pickle::Value::Type::kStr: return StrToSwiftBytes(v.as_string());
    case pickle::Value::Type::kInt: return std::to_string(v.as_int());
    default: return Status::Corruption("metadata key or value is not a string: " +
                                    v.Repr(kMaxPeerMessage));
  }
}

std::string PieceName(size_t n) {
  return n == 0 ? std::string(kMetadataXattr) : kMetadataXattr + std::to_string(n);
}

// fgetxattr into a string; nullopt with errno set on failure.
std::optional<std::string> GetXattr(int fd, const std::string& name) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    ssize_t size = fgetxattr(fd, name.c_str(), nullptr, 0);
    if (size < 0) return std::nullopt;
    std::string buf(static_cast<size_t>(size), '\0');
    ssize_t got = fgetxattr(fd, name.c_str(), buf.data(), buf.size());
    if (got >= 0) {
      buf.resize(static_cast<size_t>(got));
      return buf;
    }
    if (errno != ERANGE) return std::nullopt;  // ERANGE: it grew meanwhile, retry
  }
  errno = ERANGE;
  return std::nullopt;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string EncodeMetadata(const Metadata& metadata) {
  return MetadataPickler().Dump(metadata);
}

Result<Metadata> DecodeMetadata(std::string_view pickled) {
  Result<pickle::Value> v = pickle::Loads(pickled);
  if (!v.ok()) return v.status().WithContext("metadata pickle");
  if (!v->is_dict()) {
    return Status::Corruption("metadata pickle is not a dict: " + v->Repr(kMaxPeerMessage));
  }
  Metadata md;
  for (const auto& [k, val] : v->dict()) {
    Result<std::string> key = ToSwiftString(k);
    if (!key.ok()) return key.status();
    Result<std::string> value = ToSwiftString(val);
    if (!value.ok()) return value.status();
    md.Set(*key, std::move(*value));
  }
  return md;
}

Result<std::string> ReadRawMetadata(int fd) {
  std::string pickled;
  for (size_t n = 0;; ++n) {
    std::optional<std::string> piece = GetXattr(fd, PieceName(n));
    if (!piece) {
      if (errno == ENODATA) break;  // the last piece was the previous one
      return Status::FromErrno("read " + PieceName(n), errno);
    }
    pickled += *piece;
  }
  if (pickled.empty()) return Status::Corruption("no metadata xattr");
  std::optional<std::string> checksum = GetXattr(fd, kMetadataChecksumXattr);
  // Swift ignores a missing (pre-checksum object) or empty checksum.
  if (checksum && !checksum->empty()) {
    std::string computed = Md5Hex(pickled);
    if (*checksum != computed) {
      return Status::Corruption("metadata checksum mismatch: stored '" + *checksum +
                                "', computed '" + computed + "'");
    }
  }
  return pickled;
}

Result<std::string> ReadRawMetadataFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno("open " + path, errno);
  Result<std::string> raw = ReadRawMetadata(fd.get());
  if (!raw.ok()) return raw.status().WithContext(path);
  return raw;
}

Status WriteRawMetadata(int fd, std::string_view pickled, size_t chunk_size, bool fresh_file) {
  if (pickled.empty()) return Status::InvalidArgument("empty metadata pickle");
  if (chunk_size == 0) return Status::InvalidArgument("xattr chunk size 0");
  size_t n = 0;
  for (size_t off = 0; off < pickled.size(); off += chunk_size, ++n) {
    std::string_view piece = pickled.substr(off, chunk_size);
    if (fsetxattr(fd, PieceName(n).c_str(), piece.data(), piece.size(), 0) != 0) {
      return Status::FromErrno("write " + PieceName(n), errno);
    }
  }
  if (!fresh_file && fremovexattr(fd, PieceName(n).c_str()) != 0 && errno != ENODATA) {
    return Status::FromErrno("remove stale " + PieceName(n), errno);
  }
  std::string checksum = Md5Hex(pickled);
  if (fsetxattr(fd, kMetadataChecksumXattr, checksum.data(), checksum.size(), 0) != 0) {
    return Status::FromErrno(std::string("write ") + kMetadataChecksumXattr, errno);
  }
  return Status::OK();
}

Result<Metadata> ReadMetadata(int fd) {
  Result<std::string> raw = ReadRawMetadata(fd);
  if (!raw.ok()) return raw.status();
  return DecodeMetadata(*raw);
}

Result<Metadata> ReadMetadataFile(const std::string& path) {
  Result<std::string> raw = ReadRawMetadataFile(path);
  if (!raw.ok()) return raw.status();
  Result<Metadata> md = DecodeMetadata(*raw);
  if (!md.ok()) return md.status().WithContext(path);
  return md;
}

Status WriteMetadata(int fd, const Metadata& metadata, size_t chunk_size) {
  return WriteRawMetadata(fd, EncodeMetadata(metadata), chunk_size);
}

}  // namespace replicant::diskfile
