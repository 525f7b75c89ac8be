// NativeSession: the sending end of one REPCONN session with one peer.
//
// Open() connects to the peer's replication_ip:replication_port (conn_timeout),
// sends `REPCONN /<device>/<partition>` with the policy index and the extensions it
// offers, and after a 200 exchanges BeginReplicationRequest/Response. The peer's
// answer decides the protocol: the extensions it accepted, or Hummingbird's plain
// one-file-at-a-time flow when it accepted none. A 405 or 400 (a Swift object server
// does not know REPCONN) is reported as Unsupported so the caller can use ssync.
// Every read waits at most http_timeout, every write node_timeout. An {"Error": ...}
// frame from the receiver becomes an error status carrying its text (capped at
// kMaxPeerMessage bytes).
// Not thread-safe: one thread drives a session.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "ring/ring.h"
#include "sync_backends/native/native_wire.h"
#include "net/socket_stream.h"

namespace replicant::sync::native {

struct SessionOptions {
  double conn_timeout = 0.5, node_timeout = 10, http_timeout = 60;
  Extensions offer = Extensions::All();
  size_t max_frame = kDefaultMaxFrame;
  size_t max_frame_values = kDefaultMaxFrameValues;  // FrameValueLimit(batch files)
};

class NativeSession {
 public:
  enum class OpenError { kNone, kUnsupported, kFailed };
  struct Opened {
    std::unique_ptr<NativeSession> session;
    OpenError error = OpenError::kNone;
    Status status;  // why, when session is null
  };
  static Opened Open(const Device& node, const std::string& partition, int policy_index,
                     const SessionOptions& opts);

  const Extensions& extensions() const { return ext_; }
  const std::string& name() const { return name_; }
  net::ByteStream& stream() { return *tcp_; }

  Status Send(const nlohmann::json& j) { return WriteFrame(*tcp_, j); }
  Status Flush() { return tcp_->Flush(); }
  // Reads one frame; an {"Error": ...} frame is an error status.
  Result<nlohmann::json> Receive();
  // {"Done": true}, then close.
  void Finish();
  uint64_t bytes_sent() const { return bytes_sent_; }
  void CountSent(uint64_t n) { bytes_sent_ += n; }

 private:
  NativeSession(std::unique_ptr<net::SocketStream> tcp, std::string name, Extensions ext,
                size_t max_frame, size_t max_frame_values)
      : tcp_(std::move(tcp)), name_(std::move(name)), ext_(ext), max_frame_(max_frame),
        max_frame_values_(max_frame_values) {}
  std::unique_ptr<net::SocketStream> tcp_;
  std::string name_;
  Extensions ext_;
  size_t max_frame_;
  size_t max_frame_values_;
  uint64_t bytes_sent_ = 0;
};

}  // namespace replicant::sync::native
