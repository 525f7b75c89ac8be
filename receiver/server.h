// Server: `replicant serve`'s HTTP/1.1 listener, dispatching on the request method.
//
// One thread per connection (at most max_clients; more wait in the listen backlog),
// keep-alive between simple requests. Before a handler runs, the server answers what
// Swift's object server answers for every method: 412 for a path that is not UTF-8,
// 405 for a method nobody registered; malformed heads get a 400 (414 for
// an over-long request line) and the connection is closed. Every request gets one
// access log line (method, target, status, duration, peer); a client that disconnects
// or stalls past client_timeout ends only its own connection, with one log line.
//
// Handlers are registered per method before Run(). A handler answers through its
// Exchange in one of three ways:
//  * Respond(): a complete response with a Content-Length body (keep-alive possible);
//  * StartChunked(): status and headers now, then a chunked body written through the
//    returned stream; the server ends the body and closes the connection afterwards;
//  * Hijack(): status and headers now, then the raw connection as a ByteStream (for
//    protocols that take over the socket, e.g. REPCONN); closed afterwards.
// A handler returns a Status for the log only: what the client sees has been sent.
//
// Stop() may be called from any thread (the signal thread): the listener closes, idle
// connections are shut at once, requests in flight get a grace period, then their
// sockets are shut too; Run() returns when every connection thread has finished, or
// a short bounded wait after that (a thread busy off its socket is abandoned).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/status.h"
#include "formats/swift_conf.h"
#include "net/framing.h"
#include "net/http_request.h"
#include "net/socket_stream.h"
#include "receiver/partition_bounds.h"
#include "receiver/replication_slots.h"
#include "receiver/server_config.h"
#include "receiver/server_metrics.h"
#include "receiver/swift_path.h"

namespace replicant::receiver {

// What handlers share: configuration, policies, the rings' partition bounds, the
// replication slots and the server's own counters.
struct ServerContext {
  ServerConfig config;
  SwiftConf swift;
  PartitionBounds bounds;
  ReplicationSlots slots;
  ServerMetrics metrics;

  ServerContext(ServerConfig c, SwiftConf s)
      : config(std::move(c)), swift(std::move(s)), bounds(config.swift_dir),
        slots(config.replication_concurrency) {}
};

class Exchange {
 public:
  enum class Mode { kNone, kComplete, kChunked, kHijacked };

  Exchange(net::SocketStream& sock, const net::HttpRequest& req, ServerContext& ctx)
      : sock_(sock), req_(req), ctx_(ctx) {}

  const net::HttpRequest& request() const { return req_; }
  ServerContext& context() { return ctx_; }

  // A complete response. Content-Type defaults to Swift's "text/html; charset=UTF-8";
  // a HEAD request gets the headers only.
  Status Respond(int status, std::string_view body, net::Headers headers = {});
  Status Respond(const HttpError& e);
  // The request body: de-chunked, or limited to Content-Length (empty when neither).
  // Sends "100 Continue" first when the client asked for it and nothing was sent yet.
  net::ByteStream& Body();
  // Sends status + headers with Transfer-Encoding: chunked; each Write on the returned
  // stream is one chunk. The server sends the last chunk after the handler returns.
  Result<net::ByteStream*> StartChunked(int status, net::Headers headers = {});
  // Sends status + headers (no Content-Length, no chunking) and hands over the
  // connection: reads return what the client sends next (bytes it already sent after
  // the head included), writes go straight to the socket.
  Result<net::ByteStream*> Hijack(int status, net::Headers headers = {});
  // Appended to this request's access log line (e.g. "busy", "lock timeout").
  void Note(std::string note);

  // For the server.
  Mode mode() const { return mode_; }
  int status() const { return status_; }
  const std::string& note() const { return note_; }
  bool write_failed() const { return write_failed_; }
  // Ends a chunked body. Returns whether the connection may serve another request.
  bool Finish();

 private:
  Status SendHead(int status, net::Headers headers, Mode mode);

  net::SocketStream& sock_;
  const net::HttpRequest& req_;
  ServerContext& ctx_;
  Mode mode_ = Mode::kNone;
  int status_ = 0;
  bool continue_sent_ = false;
  bool write_failed_ = false;
  std::string note_;
  std::unique_ptr<net::ByteStream> body_;
  std::unique_ptr<net::ChunkedWriter> chunked_;
};

using Handler = std::function<Status(Exchange&)>;

// Swift's answer to a method a server does not serve (405 with its HTML body); also
// what a handler answers for a path it does not serve with that method.
Status RespondMethodNotAllowed(Exchange& ex);

// syncfs(2) of every device under `devices`, once, before anything is served. A
// server killed after renaming a file into place, before its directory fsync, leaves
// a name that may not survive a crash; answering "exists" for it would let a sender
// delete its handoff copy. Errors are logged, not fatal (a device may be unmounted).
void SyncDevicesAtStart(const std::string& devices);

class Server {
 public:
  Server(ServerConfig config, SwiftConf swift);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before Listen(). A later registration of the same method replaces the earlier.
  void Register(const std::string& method, Handler handler);
  // Binds bind_ip:bind_port (bind_port 0 picks a free port, see port()).
  Status Listen();
  int port() const { return port_; }
  // Serves until Stop(), then drains connections (see the header comment). Returns
  // false when some connection threads still ran ~2s after their sockets were shut
  // (busy off the socket); the process should then exit without them. The destructor
  // waits for them.
  bool Run();
  void Stop();
  ServerContext& context() { return ctx_; }
  net::HttpLimits& limits() { return limits_; }

 private:
  struct Conn {
    net::SocketStream* sock = nullptr;
    bool busy = false;
  };
  void ServeConnection(int fd, std::string peer);
  enum class Next { kKeepAlive, kClose, kLinger };
  // One request, and what to do with the connection afterwards.
  Next ServeOne(net::SocketStream& s, const std::string& peer, bool first, uint64_t id);
  bool SetBusy(uint64_t id, bool busy);  // false when stopping

  ServerContext ctx_;
  std::map<std::string, Handler> handlers_;
  net::HttpLimits limits_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int active_ = 0;
  uint64_t next_id_ = 0;
  std::map<uint64_t, Conn> conns_;
};

}  // namespace replicant::receiver
