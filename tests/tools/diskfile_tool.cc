// diskfile_tool: drives hashes/diskfile from tests (tests/integration/test_diskfile_compat.py).
//
//   diskfile_tool write DEVICES DEVICE POLICY PART HASH TIMESTAMP EXT [METADATA_JSON] < body
//       EXT is data, ts or meta. METADATA_JSON (or env DISKFILE_METADATA) is a JSON
//       object of str -> str kept in its order; X-Timestamp is set to TIMESTAMP.
//       Prints {"path", "etag", "size"}.
//   diskfile_tool read HASH_DIR
//       Prints {"metadata", "datafile_metadata", "metafile_metadata", "data_file",
//       "size", "tombstone", "timestamp", "body_md5"}; on failure {"error", "code"}, exit 2.
//   diskfile_tool encode < METADATA_JSON      prints the hex of EncodeMetadata
//   diskfile_tool rawhex FILE                 prints the hex of the xattr pickle
//   diskfile_tool yield SUFFIX_DIR RECLAIM_AGE NOW
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "diskfile/layout.h"
#include "diskfile/object_writer.h"
#include "diskfile/object_reader.h"
#include "diskfile/yield_hashes.h"
#include "diskfile/timestamp.h"
#include "diskfile/object_metadata.h"

using replicant::Status;
using replicant::Timestamp;
using namespace replicant::diskfile;
using ojson = nlohmann::ordered_json;

namespace {

int Fail(const Status& s) {
  ojson out = {{"error", s.ToString()}, {"code", s.ToString().substr(0, s.ToString().find(':'))}};
  std::cout << out.dump() << "\n";
  return 2;
}

std::string Hex(const unsigned char* d, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[d[i] >> 4];
    out += kHex[d[i] & 15];
  }
  return out;
}

Metadata FromJson(const ojson& j) {
  Metadata md;
  for (const auto& [k, v] : j.items()) md.Set(k, v.get<std::string>());
  return md;
}

ojson ToJson(const Metadata& md) {
  ojson j = ojson::object();
  for (const auto& [k, v] : md) j[k] = v;
  return j;
}

std::string Dump(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::string FileMd5(int fd) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  char buf[65536];
  off_t off = 0;
  ssize_t n;
  while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
    EVP_DigestUpdate(ctx, buf, static_cast<size_t>(n));
    off += n;
  }
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, d, &len);
  EVP_MD_CTX_free(ctx);
  return Hex(d, len);
}

int Write(int argc, char** argv) {
  if (argc < 9) return Fail(Status::InvalidArgument("write needs 7 arguments"));
  std::string devices = argv[2], device = argv[3], hash = argv[6], ts = argv[7], ext = argv[8];
  int policy = std::atoi(argv[4]);
  uint64_t part = std::strtoull(argv[5], nullptr, 10);
  const char* env = std::getenv("DISKFILE_METADATA");
  std::string json_text = argc > 9 ? argv[9] : (env ? env : "{}");
  Metadata md = FromJson(ojson::parse(json_text));
  md.Set("X-Timestamp", ts);
  ObjectFileType type = ext == "data" ? ObjectFileType::kData
                        : ext == "ts" ? ObjectFileType::kTombstone
                                      : ObjectFileType::kMeta;
  WriterOptions opts;
  opts.policy_index = policy;
  auto w = ObjectWriter::Create(devices + "/" + device,
                                HashDirFor(devices, device, policy, part, hash), opts);
  if (!w.ok()) return Fail(w.status());
  if (type == ObjectFileType::kData) {
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
      Status s = (*w)->Write(std::string_view(buf, n));
      if (!s.ok()) return Fail(s);
    }
  }
  std::string etag = (*w)->etag();
  uint64_t size = (*w)->bytes_written();
  auto path = (*w)->Put(type, md);
  if (!path.ok()) return Fail(path.status());
  std::cout << Dump({{"path", *path}, {"etag", etag}, {"size", size}}) << "\n";
  return 0;
}

int Read(const std::string& hash_dir) {
  auto obj = OpenObject(hash_dir);
  if (!obj.ok()) return Fail(obj.status());
  ojson out;
  out["metadata"] = ToJson(obj->metadata);
  out["datafile_metadata"] = obj->tombstone ? ojson() : ToJson(obj->datafile_metadata);
  out["metafile_metadata"] = obj->metafile_metadata ? ToJson(*obj->metafile_metadata) : ojson();
  out["data_file"] = obj->data_file;
  out["size"] = obj->content_length;
  out["tombstone"] = obj->tombstone;
  out["timestamp"] = obj->timestamp.internal();
  out["body_md5"] = obj->tombstone ? ojson() : ojson(FileMd5(obj->data_fd.get()));
  std::cout << Dump(out) << "\n";
  return 0;
}

int Yield(int argc, char** argv) {
  if (argc < 5) return Fail(Status::InvalidArgument("yield SUFFIX_DIR RECLAIM_AGE NOW"));
  auto r = YieldHashes(argv[2], std::atoll(argv[3]), std::atof(argv[4]));
  if (!r.ok()) return Fail(r.status());
  ojson out = ojson::array();
  for (const auto& h : *r) {
    ojson e = {{"hash", h.hash}, {"ts_data", h.ts_data.internal()}, {"tombstone", h.tombstone}};
    if (h.ts_meta) e["ts_meta"] = h.ts_meta->internal();
    if (h.ts_ctype) e["ts_ctype"] = h.ts_ctype->internal();
    out.push_back(e);
  }
  std::cout << Dump(out) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "write") return Write(argc, argv);
    if (cmd == "read" && argc > 2) return Read(argv[2]);
    if (cmd == "yield") return Yield(argc, argv);
    if (cmd == "encode") {
      std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
      std::string p = EncodeMetadata(FromJson(ojson::parse(in)));
      std::cout << Hex(reinterpret_cast<const unsigned char*>(p.data()), p.size()) << "\n";
      return 0;
    }
    if (cmd == "rawhex" && argc > 2) {
      auto raw = ReadRawMetadataFile(argv[2]);
      if (!raw.ok()) return Fail(raw.status());
      std::cout << Hex(reinterpret_cast<const unsigned char*>(raw->data()), raw->size()) << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "diskfile_tool: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: diskfile_tool write|read|encode|rawhex|yield ...\n";
  return 1;
}
