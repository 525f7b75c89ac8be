// NativeSession: the sending end of one REPCONN session with one peer.
//
// Open() connects to the peer's replication_ip:replication_port (conn_timeout), or
// takes a connection made beforehand by Connect(), sends `REPCONN /<device>/<partition>`
// with the policy index and the extensions it offers, and after a 200 exchanges
// BeginReplicationRequest/Response. The peer's answer decides the protocol: the
// extensions it accepted, or Hummingbird's plain one-file-at-a-time flow when it
// accepted none. A 405 or 400 (a Swift object server does not know REPCONN) is
// reported as Unsupported so the caller can use ssync. Round trips are what a session
// costs on a real network, so: Connect() lets the caller connect while it waits for
// the peer's device; a peer known to answer REPCONN gets the Begin request right
// behind the REPCONN head (its 200 and the hashes come back together; a server
// reading the request head leaves the frame for the hijacked stream, as Hummingbird's
// and replicant's do), and so does the first batch's offer when the peer accepted the
// batch extension before; SendDone() lets the last batch's Done travel with its bodies.
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
    bool offer_sent = false;  // Start::offer went out: its answer is the next frame
    // The peer answered REPCONN with a 2xx and took what went ahead (it may fail later).
    bool accepted = false;
  };
  // How Open() starts a session.
  struct Start {
    // From Connect(), or null to connect now; used unless the peer closed it meanwhile.
    std::unique_ptr<net::SocketStream> tcp;
    // Begin goes with the REPCONN request. Only for a peer known to accept REPCONN: one
    // that refuses it might reset the connection over the unread frame and lose its 405,
    // the sign to fall back to ssync.
    bool pipelined = false;
    // With `pipelined`, the first batch's offer follows Begin: for a peer that accepted
    // the batch extension before. Should it not accept it now, the open fails.
    const nlohmann::json* offer = nullptr;
  };
  static Opened Open(const Device& node, const std::string& partition, int policy_index,
                     const SessionOptions& opts, Start start);
  static Result<std::unique_ptr<net::SocketStream>> Connect(const Device& node,
                                                           const SessionOptions& opts);

  const Extensions& extensions() const { return ext_; }
  const std::string& name() const { return name_; }
  net::ByteStream& stream() { return *tcp_; }

  Status Send(const nlohmann::json& j) { return WriteFrame(*tcp_, j); }
  Status Flush() { return tcp_->Flush(); }
  // Reads one frame; an {"Error": ...} frame is an error status.
  Result<nlohmann::json> Receive();
  // {"Done": true} now, unflushed (it goes with what follows it; the receiver reads it
  // after answering everything before it). Finish() then only waits.
  Status SendDone();
  // {"Done": true} unless sent, then waits for the receiver to close, and closes.
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
  bool done_sent_ = false;
};

}  // namespace replicant::sync::native
