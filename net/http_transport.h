// HttpTransport: runs small bodiless HTTP/1.1 requests (REPLICATE) to peers over
// persistent keep-alive TCP connections, several at once.
//
// The caller hands over complete request bytes; RunExchanges() sends them
// concurrently, one connection each, with non-blocking sockets and one poll() loop,
// and parses each response with HttpResponseParser. Connections are TCP_NODELAY and
// kept per (ip, port) in a cache owned by the calling thread, so a replicator worker
// reuses its connections from partition to partition with no locking; they close
// when the thread exits. A kept-alive connection the server closed meanwhile is
// detected before reuse, and a request that fails on a reused connection before any
// byte of its response arrived is retried once on a fresh connection (REPLICATE is
// idempotent). Timeouts: conn_timeout bounds each connect, request_timeout the whole
// exchange (connect, retry and response included).
//
// Thread-safety: RunExchanges may be called from any number of threads at once; each
// uses only its own thread's cache.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace replicant::net {

struct HttpTimeouts {
  double conn_timeout = 0.5;
  double request_timeout = 60;
};

struct HttpExchange {
  // Input.
  std::string ip;       // numeric IPv4/IPv6 or a host name
  int port = 0;
  std::string request;  // the complete request: head (and body, if any)
  size_t max_body = 0;  // the response body's bound; 0: the call's max_body
  // Output. status is OK when a complete response arrived (any HTTP status), else a
  // transport error (Unavailable: connect, reset, timeout) or a malformed/oversized
  // response (Corruption).
  Status status;
  int http_status = 0;
  std::string body;
};

// Per-thread counters, for tests and diagnostics.
struct HttpTransportCounters {
  size_t connects = 0;  // new connections opened
  size_t reuses = 0;    // requests sent on a cached connection
  size_t retries = 0;   // requests retried after a stale cached connection
};

// Runs every exchange to completion (or failure) concurrently; returns when all are
// done. The response body of each is bounded by max_body bytes.
void RunExchanges(std::vector<HttpExchange>& exchanges, const HttpTimeouts& timeouts,
                  size_t max_body);

// The same, in two steps: the constructor starts every exchange (requests sent,
// deadlines running), Wait() completes them. Work done in between (hashing the same
// partitions locally) overlaps with the peers answering. Owned and waited on by the
// thread that made it (its connections come from that thread's cache); the
// destructor waits if Wait() was not called.
class PendingExchanges {
 public:
  PendingExchanges(std::vector<HttpExchange> exchanges, const HttpTimeouts& timeouts,
                   size_t max_body);
  ~PendingExchanges();
  PendingExchanges(const PendingExchanges&) = delete;
  PendingExchanges& operator=(const PendingExchanges&) = delete;

  // Returns the exchanges, each complete or failed, in the order given.
  std::vector<HttpExchange>& Wait();

 private:
  struct Loop;
  std::vector<HttpExchange> exchanges_;
  std::unique_ptr<Loop> loop_;
  bool waited_ = false;
};

// The calling thread's counters since it started (or since ResetThreadHttpCounters).
HttpTransportCounters ThreadHttpCounters();
void ResetThreadHttpCounters();
// Closes the calling thread's cached connections.
void CloseThreadHttpConnections();

}  // namespace replicant::net
