// Reading the v1 ring file format (Swift's RingData.load / deserialize_v1).
//
// Deliberately stricter than Swift in two ways, both about damaged files: the gzip
// stream must be complete (Swift stops reading once it has the rows, so a lost
// trailer goes unnoticed there), and every row but the last must be full (Swift would
// silently load a truncated file as a ring with fewer replicas).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cerrno>
#include <limits>
#include <nlohmann/json.hpp>

#include "ring/ring.h"
#include "ring/ring_file.h"

namespace replicant {

namespace {

using nlohmann::json;

// A ring of part power 24 with 6 replicas is ~200 MB; refuse far beyond that rather
// than let a gzip bomb eat memory.
constexpr size_t kMaxInflated = size_t{1} << 31;

Status Inflate(std::string_view gz, std::string* out) {
  z_stream zs{};
  // 32 + MAX_WBITS: gzip or zlib header, auto-detected, as Swift's RingReader does.
  if (inflateInit2(&zs, 32 + MAX_WBITS) != Z_OK) return Status::IOError("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ended mid-stream
    out->append(buf, sizeof(buf) - zs.avail_out);
    if (out->size() > kMaxInflated) rc = Z_MEM_ERROR;
  }
  std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  if (rc == Z_STREAM_END) return Status::OK();  // trailing bytes are ignored, as in Swift
  if (rc == Z_OK || rc == Z_BUF_ERROR) return Status::Corruption("truncated gzip stream");
  if (rc == Z_MEM_ERROR) return Status::Corruption("decompressed size over 2 GiB");
  return Status::Corruption("bad gzip data" + (msg.empty() ? "" : ": " + msg));
}

uint32_t BigEndian(std::string_view b) {
  uint32_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}

// Integer field as Python would need it (bool is not accepted as an int here).
Status GetInt(const json& obj, const char* key, int64_t lo, int64_t hi, int64_t* out,
              const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Corruption(where + ": missing '" + key + "'");
  if (!it->is_number_integer())
    return Status::Corruption(where + ": '" + key + "' is not an integer");
  bool in_range = false;
  int64_t v = 0;
  if (it->is_number_unsigned()) {
    uint64_t u = it->get<uint64_t>();
    in_range = u <= static_cast<uint64_t>(hi);
    v = static_cast<int64_t>(u);
  } else {
    v = it->get<int64_t>();
    in_range = v <= hi;
  }
  if (!in_range || v < lo) return Status::Corruption(where + ": '" + key + "' is out of range");
  *out = v;
  return Status::OK();
}

Status GetString(const json& obj, const char* key, std::string* out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Corruption(where + ": missing '" + key + "'");
  if (!it->is_string()) return Status::Corruption(where + ": '" + key + "' is not a string");
  *out = it->get<std::string>();
  return Status::OK();
}

constexpr int64_t kIntMin = std::numeric_limits<int>::min();
constexpr int64_t kIntMax = std::numeric_limits<int>::max();

// One device dict, with Ring._reload's defaults (region 1, replication_* = ip/port).
Status ParseDevice(const json& j, size_t index, Device* d) {
  std::string where = "device " + std::to_string(index);
  if (!j.is_object()) return Status::Corruption(where + " is not an object or null");
  int64_t v = 0;
  Status s = GetInt(j, "id", kIntMin, kIntMax, &v, where);
  if (!s.ok()) return s;
  // Swift mixes the row's id (the index) and dev['id']; they must agree.
  if (v != static_cast<int64_t>(index))
    return Status::Corruption(where + ": 'id' is " + std::to_string(v));
  d->id = static_cast<int>(v);
  if (j.contains("region")) {
    if (!(s = GetInt(j, "region", kIntMin, kIntMax, &v, where)).ok()) return s;
    d->region = static_cast<int>(v);
  }
  if (!(s = GetInt(j, "zone", kIntMin, kIntMax, &v, where)).ok()) return s;
  d->zone = static_cast<int>(v);
  if (!(s = GetString(j, "ip", &d->ip, where)).ok()) return s;
  if (!(s = GetInt(j, "port", kIntMin, kIntMax, &v, where)).ok()) return s;
  d->port = static_cast<int>(v);
  d->replication_ip = d->ip;
  d->replication_port = d->port;
  if (j.contains("replication_ip") &&
      !(s = GetString(j, "replication_ip", &d->replication_ip, where)).ok())
    return s;
  if (j.contains("replication_port")) {
    if (!(s = GetInt(j, "replication_port", kIntMin, kIntMax, &v, where)).ok()) return s;
    d->replication_port = static_cast<int>(v);
  }
  if (!(s = GetString(j, "device", &d->device, where)).ok()) return s;
  auto w = j.find("weight");  // Swift: dev.get('weight', 0)
  if (w != j.end()) {
    if (!w->is_number()) return Status::Corruption(where + ": 'weight' is not a number");
    d->weight = w->get<double>();
  }
  auto m = j.find("meta");
  if (m != j.end() && !m->is_null()) d->meta = m->is_string() ? m->get<std::string>() : m->dump();
  return Status::OK();
}

}  // namespace

// Friend of Ring: fills its private fields from the inflated file contents.
class RingParser {
 public:
  static Status Parse(std::string_view data, Ring* ring);
};

Status RingParser::Parse(std::string_view data, Ring* ring) {
  if (data.size() < 4 || data.substr(0, 4) != "R1NG")
    return Status::Corruption("not a v1 ring file (no R1NG magic)");
  if (data.size() < 6) return Status::Corruption("truncated before the format version");
  uint32_t version = BigEndian(data.substr(4, 2));
  if (version != 1)
    return Status::Corruption("unknown ring format version " + std::to_string(version));
  if (data.size() < 10) return Status::Corruption("truncated before the JSON length");
  uint64_t json_len = BigEndian(data.substr(6, 4));
  if (data.size() - 10 < json_len) return Status::Corruption("truncated in the JSON header");
  json hdr;
  try {
    hdr = json::parse(data.substr(10, json_len));
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("bad JSON header: ") + e.what());
  }
  if (!hdr.is_object()) return Status::Corruption("JSON header is not an object");

  int64_t shift = 0, rows = 0;
  Status s = GetInt(hdr, "part_shift", 1, 32, &shift, "JSON header");
  if (!s.ok()) return s;
  if (!(s = GetInt(hdr, "replica_count", 1, 65535, &rows, "JSON header")).ok()) return s;
  bool swap = false;  // a missing byteorder means the reader's own
  if (auto bo = hdr.find("byteorder"); bo != hdr.end()) {
    if (!bo->is_string() || (*bo != "little" && *bo != "big"))
      return Status::Corruption("JSON header: 'byteorder' is not \"little\" or \"big\"");
    swap = (*bo == "little") != (std::endian::native == std::endian::little);
  }
  if (auto it = hdr.find("next_part_power"); it != hdr.end() && it->is_number_integer())
    ring->next_part_power_ = it->get<int>();
  if (auto it = hdr.find("version"); it != hdr.end() && it->is_number_integer())
    ring->version_ = it->get<int64_t>();

  auto devs = hdr.find("devs");
  if (devs == hdr.end() || !devs->is_array())
    return Status::Corruption("JSON header: 'devs' is missing or not a list");
  if (devs->size() > 65536)
    return Status::Corruption("JSON header: more devices than uint16 ids can name");
  ring->devs_.resize(devs->size());
  for (size_t i = 0; i < devs->size(); ++i) {
    const json& dj = (*devs)[i];
    if (dj.is_null()) continue;  // a removed device
    Device d;
    if (!(s = ParseDevice(dj, i, &d)).ok()) return s;
    ring->devs_[i] = std::move(d);
  }

  ring->part_shift_ = static_cast<int>(shift);
  ring->parts_ = static_cast<uint32_t>(uint64_t{1} << (32 - shift));
  const uint64_t row_bytes = uint64_t{2} * ring->parts_;
  std::string_view rest = data.substr(10 + json_len);
  for (int64_t r = 0; r < rows; ++r) {
    // Swift reads each row with read(2 * partition_count): only the last may be short.
    std::string_view bytes = rest.substr(0, row_bytes);
    rest.remove_prefix(bytes.size());
    if (bytes.size() % 2 != 0)
      return Status::Corruption("replica " + std::to_string(r) + " has an odd byte count");
    if (bytes.size() < row_bytes && (r + 1 < rows || r == 0))
      return Status::Corruption("truncated: replica " + std::to_string(r) + " has " +
                                std::to_string(bytes.size() / 2) + " of " +
                                std::to_string(ring->parts_) + " partitions");
    std::vector<uint16_t> row(bytes.size() / 2);
    auto b = reinterpret_cast<const unsigned char*>(bytes.data());
    for (size_t p = 0; p < row.size(); ++p) {
      uint16_t lo = b[2 * p], hi = b[2 * p + 1];
      bool little = (std::endian::native == std::endian::little) != swap;
      row[p] = little ? static_cast<uint16_t>(lo | hi << 8) : static_cast<uint16_t>(hi | lo << 8);
    }
    ring->rows_.push_back(std::move(row));
  }
  return ring->Finish();
}

Status ReadWholeFile(const std::string& path, std::string* out, struct timespec* mtime) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  struct stat st {};
  // fstat on the open fd: the mtime then belongs to exactly the bytes we read.
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("stat " + path, err);
  }
  if (mtime) *mtime = st.st_mtim;
  out->clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("read " + path, err);
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::OK();
}

Result<std::shared_ptr<const Ring>> Ring::FromGzip(std::string_view gz, const std::string& name) {
  std::string data;
  Status s = Inflate(gz, &data);
  std::shared_ptr<Ring> ring(new Ring());
  if (s.ok()) s = RingParser::Parse(data, ring.get());
  if (!s.ok()) return Status::Corruption("ring " + name + ": " + s.message());
  return std::shared_ptr<const Ring>(std::move(ring));
}

Result<std::shared_ptr<const Ring>> LoadRingFile(const std::string& path, struct timespec* mtime) {
  std::string gz;
  Status s = ReadWholeFile(path, &gz, mtime);
  if (!s.ok()) return s;
  return Ring::FromGzip(gz, path);
}

Result<std::shared_ptr<const Ring>> Ring::Load(const std::string& path) {
  return LoadRingFile(path, nullptr);
}

}  // namespace replicant
