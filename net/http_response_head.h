// HTTP/1.x response heads as a client reads them: the status line and header lines
// (one parser each, shared by ReadHttpResponseHead and HttpResponseParser), and
// ReadHttpResponseHead, the whole head as the protocol senders (SSYNC, REPCONN) read it
// from a ByteStream before the body or the hijacked stream.
//
// ReadHttpResponseHead reads with bounded lines and header count; a closed connection
// or a malformed head is an IOError. Bytes after the blank line stay in the stream for
// the caller. Pure parsing; a stream is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/byte_stream.h"

namespace replicant::net {

struct StatusLine {
  int http_minor = 1;  // HTTP/1.<minor>
  int status = 0;
};
// "HTTP/1.1 200 OK" (the reason phrase may be missing), without its line end.
// InvalidArgument naming the line when malformed.
Result<StatusLine> ParseStatusLine(std::string_view line);

struct HeaderLine {
  bool continuation = false;  // obs-fold: `value` continues the previous header's
  std::string name;           // lower-cased
  std::string value;          // without surrounding spaces and tabs
};
// "Name: value", or a continuation line starting with a space or tab, without its
// line end. InvalidArgument naming the line when malformed.
Result<HeaderLine> ParseResponseHeaderLine(std::string_view line);

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

}  // namespace replicant::net
