// Native replication protocol: the wire framing and the messages (REPCONN).
//
// After `REPCONN /<device>/<partition>` is answered 200, the connection carries frames:
// a 4-byte big-endian length, then that many bytes of JSON. The messages are
// Hummingbird's, with its Go field names, so a plain Hummingbird peer talks to us:
//
//   sender -> BeginReplicationRequest{Device, Partition, NeedHashes}
//   receiver -> BeginReplicationResponse{Hashes}
//   per file:  SyncFileRequest{Path, Xattrs (hex of the pickled metadata), Size, Check,
//              Ping, Done} -> SyncFileResponse{Exists, NewerExists, GoAhead, Msg}
//              on GoAhead: Size raw bytes -> FileUploadResponse{Success, Msg}
//   sender -> {"Done": true}, and the connection closes.
//
// replicant's extensions are offered in the request header X-Replicant-Native and
// accepted in the 200's header of the same name (the intersection is what is used):
//   batch  BatchRequest{Files: [SyncFileRequest]} -> BatchResponse{Files:
//          [SyncFileResponse]}, then for each GoAhead entry, in order, a BodyHeader
//          frame followed by its body, then one BatchUploadResponse{Files:
//          [FileUploadResponse]} once every file of the batch is durable: two round
//          trips per batch instead of two per file;
//   delta  a BatchResponse entry may say Delta with SignatureSize: the receiver holds
//          an older .data of the object and sends its librsync signature (raw bytes,
//          after the BatchResponse, in entry order); the sender may then send a
//          librsync delta as the body, in chunks (4-byte length, 0 ends);
//   md5    the receiver checks every .data body against its ETag before committing.
// Parsing is strict about types and bounded in size; these functions are pure and
// thread-safe. A ByteStream is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "net/byte_stream.h"

namespace replicant::sync::native {

inline constexpr char kExtensionsHeader[] = "X-Replicant-Native";
// Hummingbird's frames carry at most a few KiB; a batch of 256 files with 64 KiB of
// metadata each stays below this default.
inline constexpr size_t kDefaultMaxFrame = 32u << 20;
// Largest chunk of a delta body.
inline constexpr size_t kMaxDeltaChunk = 1u << 20;

// JSON values a frame may hold (each scalar, object, array and object key counts one),
// checked as each value is parsed, before it joins the tree: a parsed value costs
// up to ~128 bytes more than its text, so without this an 8 MiB frame of {} grew into
// 230 MB. A BeginReplicationResponse of 4096 suffixes needs 8195 values and a batch
// entry about 13; FrameValueLimit leaves room for fields a newer peer may add.
inline constexpr size_t kFrameValuesBase = 16384;
inline constexpr size_t kFrameValuesPerFile = 32;
constexpr size_t FrameValueLimit(size_t max_batch_files) {
  return kFrameValuesBase + kFrameValuesPerFile * max_batch_files;
}
inline constexpr size_t kDefaultMaxFrameValues = FrameValueLimit(1024);
// Our messages nest three levels; anything deeper is hostile.
inline constexpr int kMaxFrameDepth = 16;
// The largest metadata pickle a peer may send in Xattrs (raw bytes; the hex is twice
// that). Swift's header limits keep real metadata far below it; it bounds what one
// pickle load of peer input may allocate (~130 bytes per opcode byte, adversarially).
inline constexpr size_t kMaxXattrsBytes = 1u << 20;

struct Extensions {
  bool batch = false, delta = false, md5 = false;
  static Extensions All() { return {true, true, true}; }
  // "batch,delta,md5"; unknown names are ignored, so newer peers stay compatible.
  static Extensions Parse(std::string_view header);
  std::string ToHeader() const;
  Extensions Intersect(const Extensions& o) const {
    return {batch && o.batch, delta && o.delta, md5 && o.md5};
  }
  bool any() const { return batch || delta || md5; }
};

struct BeginReplicationRequest {
  std::string device, partition;
  bool need_hashes = false;
};
struct BeginReplicationResponse {
  std::optional<std::map<std::string, std::string>> hashes;  // null unless NeedHashes
};
struct SyncFileRequest {
  std::string path;    // <device>/objects[-N]/<part>/<suffix>/<hash>/<file>
  std::string xattrs;  // hex of the raw user.swift.metadata bytes
  int64_t size = 0;
  bool check = false, ping = false, done = false;
};
struct SyncFileResponse {
  bool exists = false, newer_exists = false, go_ahead = false;
  std::string msg;
  bool delta = false;          // extension: a signature of SignatureSize bytes follows
  int64_t signature_size = 0;
};
struct FileUploadResponse {
  bool success = false;
  std::string msg;
};
struct BatchRequest { std::vector<SyncFileRequest> files; };
struct BatchResponse { std::vector<SyncFileResponse> files; };
struct BatchUploadResponse { std::vector<FileUploadResponse> files; };
// Before each body of a batch: its length (a full body), or Delta (chunked delta), or
// Skip (the sender could not read the file; nothing follows).
struct BodyHeader {
  int64_t size = 0;
  bool delta = false, skip = false;
};

nlohmann::json ToJson(const BeginReplicationRequest& m);
nlohmann::json ToJson(const BeginReplicationResponse& m);
nlohmann::json ToJson(const SyncFileRequest& m);
nlohmann::json ToJson(const SyncFileResponse& m);
nlohmann::json ToJson(const FileUploadResponse& m);
nlohmann::json ToJson(const BatchRequest& m);
nlohmann::json ToJson(const BatchResponse& m);
nlohmann::json ToJson(const BatchUploadResponse& m);
nlohmann::json ToJson(const BodyHeader& m);

// Each checks the JSON's shape: an object, known fields of the right type (missing
// ones keep their defaults, as Go's decoder does). InvalidArgument names the field.
Status FromJson(const nlohmann::json& j, BeginReplicationRequest* m);
Status FromJson(const nlohmann::json& j, BeginReplicationResponse* m);
Status FromJson(const nlohmann::json& j, SyncFileRequest* m);
Status FromJson(const nlohmann::json& j, SyncFileResponse* m);
Status FromJson(const nlohmann::json& j, FileUploadResponse* m);
Status FromJson(const nlohmann::json& j, BatchRequest* m, size_t max_files);
Status FromJson(const nlohmann::json& j, BatchResponse* m, size_t max_files);
Status FromJson(const nlohmann::json& j, BatchUploadResponse* m, size_t max_files);
Status FromJson(const nlohmann::json& j, BodyHeader* m);

// Frames. WriteFrame buffers (the caller flushes); ReadFrame returns NotFound on a
// clean end of stream before the length, IOError on a truncated frame,
// InvalidArgument for a length above max_len, a body that is not JSON, or one with
// more than max_values JSON values or deeper than kMaxFrameDepth. Reading a frame thus
// takes at most max_len bytes for the body plus, for the tree, its strings and
// ~128 bytes per value.
Status WriteFrame(net::ByteStream& s, const nlohmann::json& j);
Result<nlohmann::json> ReadFrame(net::ByteStream& s, size_t max_len,
                                 size_t max_values = kDefaultMaxFrameValues);
// The JSON of one frame body (for ReadFrame and the fuzz target).
Result<nlohmann::json> ParseFrameBody(std::string_view body,
                                      size_t max_values = kDefaultMaxFrameValues);

// Delta chunks: 4-byte big-endian length + bytes; a zero length ends the body.
Status WriteChunk(net::ByteStream& s, std::string_view data);
// Empty string at the end marker.
Result<std::string> ReadChunk(net::ByteStream& s, size_t max_len = kMaxDeltaChunk);

// Hex codec for Xattrs (Go's hex.EncodeToString: lower case; decoding takes both).
std::string HexEncode(std::string_view raw);
Result<std::string> HexDecode(std::string_view hex);

}  // namespace replicant::sync::native
