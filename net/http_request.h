// HTTP/1.x request heads (parsed) and response heads (written) for the replication
// server.
//
// ReadRequestHead reads and checks a request line and its headers with hard limits
// (line length, header count, total size) so a hostile client gets a 400 (414 for an
// over-long request line, as eventlet answers) instead of unbounded buffering. The
// path is percent-decoded as WSGI's PATH_INFO is; the query string is split off.
// Pure functions over a SocketStream; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "net/http_text.h"  // PercentDecode
#include "net/socket_stream.h"

namespace replicant::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpLimits {
  size_t max_line = 8192;   // request line and each header line
  size_t max_headers = 100;
  size_t max_head = 65536;  // everything before the body
};

struct HttpRequest {
  std::string method;
  std::string target;  // as sent
  std::string path;    // percent-decoded, without the query (WSGI PATH_INFO)
  std::string query;
  int http_minor = 1;  // HTTP/1.<minor>
  Headers headers;     // names lower-cased, values trimmed, in order
  std::string peer;    // "ip:port", for logs

  // The first header of that (lower-case) name, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
  bool chunked() const;
  // Content-Length when given (validated by ReadRequestHead).
  std::optional<uint64_t> content_length() const;
  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive() const;
  bool expects_continue() const;
};

// Why a request head was refused: the status to answer and a line for the log.
struct HeadError {
  int status = 400;
  std::string message;
};

// Parses "METHOD SP target SP HTTP/1.x" into req (method, target, path, query, minor).
std::optional<HeadError> ParseRequestLine(std::string_view line, HttpRequest* req);
// Splits "Name: value" (name lower-cased, value trimmed).
std::optional<HeadError> ParseHeaderLine(std::string_view line, HttpRequest* req);
// Checks framing headers: one valid Content-Length, chunked as the last coding.
std::optional<HeadError> CheckFraming(const HttpRequest& req);

// Outcome of reading the next request on a connection.
struct HeadResult {
  enum class Kind { kRequest, kClosed, kIdleTimeout, kBad, kIoError } kind = Kind::kRequest;
  HttpRequest request;
  HeadError error;     // kBad: answer this; kIoError: message only
};
// Reads one request head. The first byte may take idle_timeout (keep-alive wait); the
// rest of the head must arrive within head_timeout.
HeadResult ReadRequestHead(SocketStream& s, const HttpLimits& limits, double idle_timeout,
                           double head_timeout);

// "Bad Request" for 400 and so on ("Unknown" for codes not used here).
std::string_view ReasonPhrase(int status);
// "HTTP/1.1 <status> <reason>\r\n" + Date + headers + "\r\n".
std::string ResponseHead(int status, const Headers& headers);

}  // namespace replicant::net
