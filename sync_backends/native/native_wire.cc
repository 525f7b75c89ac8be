#include "sync_backends/native/native_wire.h"

#include <fmt/format.h>

namespace replicant::sync::native {
namespace {

using nlohmann::json;

Status Bad(std::string_view what) { return Status::InvalidArgument(std::string(what)); }

Status RequireObject(const json& j, const char* type) {
  if (!j.is_object()) return Bad(fmt::format("{}: expected a JSON object", type));
  return Status::OK();
}

// Field readers: absent keeps the default; present with another type is an error.
Status GetBool(const json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::OK();
  if (!it->is_boolean()) return Bad(fmt::format("field {} must be a boolean", key));
  *out = it->get<bool>();
  return Status::OK();
}

Status GetString(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::OK();
  if (!it->is_string()) return Bad(fmt::format("field {} must be a string", key));
  *out = it->get<std::string>();
  return Status::OK();
}

Status GetInt(const json& j, const char* key, int64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::OK();
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return Bad(fmt::format("field {} out of range", key));
    *out = static_cast<int64_t>(v);
    return Status::OK();
  }
  if (!it->is_number_integer()) return Bad(fmt::format("field {} must be an integer", key));
  *out = it->get<int64_t>();
  return Status::OK();
}

template <typename T>
Status GetList(const json& j, size_t max_files, std::vector<T>* out) {
  auto it = j.find("Files");
  if (it == j.end() || !it->is_array()) return Bad("field Files must be an array");
  if (it->size() > max_files) {
    return Bad(fmt::format("{} files in one batch (at most {})", it->size(), max_files));
  }
  out->clear();
  out->reserve(it->size());
  for (const auto& e : *it) {
    T m;
    if (Status s = FromJson(e, &m); !s.ok()) return s.WithContext("Files entry");
    out->push_back(std::move(m));
  }
  return Status::OK();
}

// The SAX pass that parses a frame body: it counts values and depth and stops at the
// first one over the limits, building the tree as it goes (one lexing pass), so what it
// builds is bounded by the limits, never by the body's size alone.
class FrameParse {
 public:
  FrameParse(size_t max_values, json* out) : max_values_(max_values), dom_(*out, false) {}
  Status status() const { return status_; }

  bool null() { return Count() && dom_.null(); }
  bool boolean(bool v) { return Count() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return Count() && dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return Count() && dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return Count() && dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return Count() && dom_.string(v); }
  bool binary(json::binary_t& v) { return Count() && dom_.binary(v); }
  bool key(json::string_t& v) { return Count() && dom_.key(v); }
  bool start_object(size_t n) { return Open() && dom_.start_object(n); }
  bool start_array(size_t n) { return Open() && dom_.start_array(n); }
  bool end_object() { return --depth_, dom_.end_object(); }
  bool end_array() { return --depth_, dom_.end_array(); }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) {
    status_ = Bad("frame is not valid JSON");
    return false;
  }

 private:
  bool Count() {
    if (++values_ <= max_values_) return true;
    status_ = Bad(fmt::format("frame holds more than {} JSON values", max_values_));
    return false;
  }
  bool Open() {
    if (++depth_ > kMaxFrameDepth) {
      status_ = Bad(fmt::format("frame nests deeper than {} levels", kMaxFrameDepth));
      return false;
    }
    return Count();
  }

  size_t max_values_, values_ = 0;
  int depth_ = 0;
  Status status_;
  nlohmann::detail::json_sax_dom_parser<json> dom_;
};

uint32_t LoadBe32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

std::string Be32(uint32_t v) {
  std::string out(4, '\0');
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
  return out;
}

}  // namespace

Extensions Extensions::Parse(std::string_view header) {
  Extensions e;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view tok = header.substr(pos, comma - pos);
    while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
    while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
    if (tok == "batch") e.batch = true;
    else if (tok == "delta") e.delta = true;
    else if (tok == "md5") e.md5 = true;
    pos = comma + 1;
  }
  return e;
}

std::string Extensions::ToHeader() const {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(batch, "batch");
  add(delta, "delta");
  add(md5, "md5");
  return out;
}

json ToJson(const BeginReplicationRequest& m) {
  return {{"Device", m.device}, {"Partition", m.partition}, {"NeedHashes", m.need_hashes}};
}
json ToJson(const BeginReplicationResponse& m) {
  json j = json::object();
  j["Hashes"] = m.hashes ? json(*m.hashes) : json(nullptr);
  return j;
}
json ToJson(const SyncFileRequest& m) {
  return {{"Path", m.path}, {"Xattrs", m.xattrs}, {"Size", m.size},
          {"Check", m.check}, {"Ping", m.ping},   {"Done", m.done}};
}
json ToJson(const SyncFileResponse& m) {
  json j = {{"Exists", m.exists}, {"NewerExists", m.newer_exists}, {"GoAhead", m.go_ahead},
            {"Msg", m.msg}};
  if (m.delta) {
    j["Delta"] = true;
    j["SignatureSize"] = m.signature_size;
  }
  return j;
}
json ToJson(const FileUploadResponse& m) { return {{"Success", m.success}, {"Msg", m.msg}}; }
json ToJson(const BatchRequest& m) {
  json files = json::array();
  for (const auto& f : m.files) files.push_back(ToJson(f));
  return {{"Files", std::move(files)}};
}
json ToJson(const BatchResponse& m) {
  json files = json::array();
  for (const auto& f : m.files) files.push_back(ToJson(f));
  return {{"Files", std::move(files)}};
}
json ToJson(const BatchUploadResponse& m) {
  json files = json::array();
  for (const auto& f : m.files) files.push_back(ToJson(f));
  return {{"Files", std::move(files)}};
}
json ToJson(const BodyHeader& m) {
  return {{"Size", m.size}, {"Delta", m.delta}, {"Skip", m.skip}};
}

Status FromJson(const json& j, BeginReplicationRequest* m) {
  if (Status s = RequireObject(j, "BeginReplicationRequest"); !s.ok()) return s;
  if (Status s = GetString(j, "Device", &m->device); !s.ok()) return s;
  if (Status s = GetString(j, "Partition", &m->partition); !s.ok()) return s;
  return GetBool(j, "NeedHashes", &m->need_hashes);
}

Status FromJson(const json& j, BeginReplicationResponse* m) {
  if (Status s = RequireObject(j, "BeginReplicationResponse"); !s.ok()) return s;
  auto it = j.find("Hashes");
  m->hashes.reset();
  if (it == j.end() || it->is_null()) return Status::OK();
  if (!it->is_object()) return Bad("field Hashes must be an object");
  std::map<std::string, std::string> h;
  for (const auto& [k, v] : it->items()) {
    // Go marshals a suffix whose hash is unknown as "" (its map has no None).
    if (!v.is_string()) return Bad("field Hashes: values must be strings");
    h.emplace(k, v.get<std::string>());
  }
  m->hashes = std::move(h);
  return Status::OK();
}

Status FromJson(const json& j, SyncFileRequest* m) {
  if (Status s = RequireObject(j, "SyncFileRequest"); !s.ok()) return s;
  if (Status s = GetString(j, "Path", &m->path); !s.ok()) return s;
  if (Status s = GetString(j, "Xattrs", &m->xattrs); !s.ok()) return s;
  if (Status s = GetInt(j, "Size", &m->size); !s.ok()) return s;
  if (m->size < 0) return Bad("field Size must not be negative");
  if (Status s = GetBool(j, "Check", &m->check); !s.ok()) return s;
  if (Status s = GetBool(j, "Ping", &m->ping); !s.ok()) return s;
  return GetBool(j, "Done", &m->done);
}

Status FromJson(const json& j, SyncFileResponse* m) {
  if (Status s = RequireObject(j, "SyncFileResponse"); !s.ok()) return s;
  if (Status s = GetBool(j, "Exists", &m->exists); !s.ok()) return s;
  if (Status s = GetBool(j, "NewerExists", &m->newer_exists); !s.ok()) return s;
  if (Status s = GetBool(j, "GoAhead", &m->go_ahead); !s.ok()) return s;
  if (Status s = GetString(j, "Msg", &m->msg); !s.ok()) return s;
  if (Status s = GetBool(j, "Delta", &m->delta); !s.ok()) return s;
  if (Status s = GetInt(j, "SignatureSize", &m->signature_size); !s.ok()) return s;
  if (m->signature_size < 0) return Bad("field SignatureSize must not be negative");
  return Status::OK();
}

Status FromJson(const json& j, FileUploadResponse* m) {
  if (Status s = RequireObject(j, "FileUploadResponse"); !s.ok()) return s;
  if (Status s = GetBool(j, "Success", &m->success); !s.ok()) return s;
  return GetString(j, "Msg", &m->msg);
}

Status FromJson(const json& j, BatchRequest* m, size_t max_files) {
  if (Status s = RequireObject(j, "BatchRequest"); !s.ok()) return s;
  return GetList(j, max_files, &m->files);
}
Status FromJson(const json& j, BatchResponse* m, size_t max_files) {
  if (Status s = RequireObject(j, "BatchResponse"); !s.ok()) return s;
  return GetList(j, max_files, &m->files);
}
Status FromJson(const json& j, BatchUploadResponse* m, size_t max_files) {
  if (Status s = RequireObject(j, "BatchUploadResponse"); !s.ok()) return s;
  return GetList(j, max_files, &m->files);
}

Status FromJson(const json& j, BodyHeader* m) {
  if (Status s = RequireObject(j, "BodyHeader"); !s.ok()) return s;
  if (Status s = GetInt(j, "Size", &m->size); !s.ok()) return s;
  if (m->size < 0) return Bad("field Size must not be negative");
  if (Status s = GetBool(j, "Delta", &m->delta); !s.ok()) return s;
  return GetBool(j, "Skip", &m->skip);
}

Status WriteFrame(net::ByteStream& s, const json& j) {
  // Msg texts may carry bytes from paths; never let a bad byte abort the session.
  std::string body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (body.size() > UINT32_MAX) return Bad("frame too large");
  std::string out = Be32(static_cast<uint32_t>(body.size()));
  out += body;
  return s.Write(out);
}

Result<json> ParseFrameBody(std::string_view body, size_t max_values) {
  json j;
  FrameParse parse(max_values, &j);
  if (!json::sax_parse(body.begin(), body.end(), &parse)) {
    return parse.status().ok() ? Bad("frame is not valid JSON") : parse.status();
  }
  return j;
}

Result<json> ReadFrame(net::ByteStream& s, size_t max_len, size_t max_values) {
  char len_buf[4];
  auto first = s.Read(len_buf, 4);
  if (!first.ok()) return first.status();
  if (*first == 0) return Status::NotFound("end of stream");
  if (*first < 4) {
    if (Status st = s.ReadExact(len_buf + *first, 4 - *first, "frame length"); !st.ok()) return st;
  }
  uint32_t len = LoadBe32(len_buf);
  if (len > max_len) return Bad(fmt::format("frame of {} bytes exceeds the limit of {}", len, max_len));
  std::string body(len, '\0');
  if (Status st = s.ReadExact(body.data(), len, "frame"); !st.ok()) return st;
  return ParseFrameBody(body, max_values);
}

Status WriteChunk(net::ByteStream& s, std::string_view data) {
  if (data.size() > UINT32_MAX) return Bad("chunk too large");
  std::string out = Be32(static_cast<uint32_t>(data.size()));
  out.append(data);
  return s.Write(out);
}

Result<std::string> ReadChunk(net::ByteStream& s, size_t max_len) {
  char len_buf[4];
  if (Status st = s.ReadExact(len_buf, 4, "chunk length"); !st.ok()) return st;
  uint32_t len = LoadBe32(len_buf);
  if (len > max_len) return Bad(fmt::format("chunk of {} bytes exceeds the limit of {}", len, max_len));
  std::string data(len, '\0');
  if (Status st = s.ReadExact(data.data(), len, "chunk"); !st.ok()) return st;
  return data;
}

std::string HexEncode(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2) return Bad("odd length hex string");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Bad("invalid hex digit");
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace replicant::sync::native
