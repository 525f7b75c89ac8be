// HttpResponseHead: the status line and headers of an HTTP/1.1 response, as the
// protocol senders (SSYNC, REPCONN) read them before the body or the hijacked stream.
//
// Read with bounded lines and header count; a closed connection or a malformed status
// line is an IOError. Bytes after the blank line stay in the stream for the caller.
// Pure parsing over a ByteStream used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/status.h"
#include "sync_backends/byte_stream.h"

namespace replicant::sync {

struct HttpResponseHead {
  int status = 0;
  bool chunked = false;
  std::optional<int64_t> content_length;
  std::map<std::string, std::string> headers;  // lower-case names; the first one wins
  const std::string* Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

Result<HttpResponseHead> ReadHttpResponseHead(ByteStream& in);

// "Host: ..." value for an ip (IPv6 bracketed) and port.
std::string HostHeader(const std::string& ip, int port);

}  // namespace replicant::sync
