#include "net/http_response_head.h"

#include <cctype>

#include "base/text.h"
#include "net/http_text.h"

namespace replicant::net {
namespace {

constexpr size_t kMaxHeaderLine = 8192;
constexpr size_t kMaxHeaders = 100;

std::optional<int64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool Digit(char c) { return c >= '0' && c <= '9'; }

// One line of the head without its "\r\n"; an end of stream is an IOError saying where.
Result<std::string> HeadLine(ByteStream& in, const char* where) {
  auto line = in.ReadLine(kMaxHeaderLine);
  if (!line.ok()) {
    if (line.status().IsNotFound()) return Status::IOError(std::string("connection closed ") + where);
    return line.status();
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return line;
}

}  // namespace

Result<StatusLine> ParseStatusLine(std::string_view line) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !Digit(line[7]) || line[8] != ' ' ||
      !Digit(line[9]) || !Digit(line[10]) || !Digit(line[11]) ||
      (line.size() > 12 && line[12] != ' ') || line[9] == '0') {
    return Status::InvalidArgument("bad HTTP status line: '" + Printable(line) + "'");
  }
  return StatusLine{line[7] - '0', (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0')};
}

Result<HeaderLine> ParseResponseHeaderLine(std::string_view line) {
  HeaderLine h;
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    h.continuation = true;
    h.value = std::string(TrimOws(line));
    return h;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("bad HTTP header line: '" + Printable(line) + "'");
  }
  std::string_view name = line.substr(0, colon);
  if (name.find_first_of(" \t") != std::string_view::npos) {
    return Status::InvalidArgument("bad HTTP header name: '" + Printable(name) + "'");
  }
  h.name = LowerAscii(name);
  h.value = std::string(TrimOws(line.substr(colon + 1)));
  return h;
}

Result<HttpResponseHead> ReadHttpResponseHead(ByteStream& in) {
  HttpResponseHead head;
  auto line = HeadLine(in, "before a response");
  if (!line.ok()) return line.status();
  auto status = ParseStatusLine(*line);
  if (!status.ok()) return Status::IOError(status.status().message());
  head.status = status->status;
  std::string* last = nullptr;  // the value an obs-fold line continues (nullptr: dropped)
  for (size_t n = 0;; ++n) {
    auto l = HeadLine(in, "inside the response headers");
    if (!l.ok()) return l.status();
    if (l->empty()) break;
    if (n >= kMaxHeaders) return Status::IOError("too many response headers");
    auto h = ParseResponseHeaderLine(*l);
    if (!h.ok()) return Status::IOError(h.status().message());
    if (h->continuation) {
      if (n == 0) return Status::IOError("header continuation before any header");
      if (last) *last += " " + h->value;
      continue;
    }
    auto [it, added] = head.headers.emplace(h->name, h->value);
    last = added ? &it->second : nullptr;
  }
  if (const std::string* te = head.Header("transfer-encoding")) head.chunked = LastCodingIsChunked(*te);
  if (const std::string* cl = head.Header("content-length")) head.content_length = ParseDecimal(*cl);
  return head;
}

std::string HostHeader(const std::string& ip, int port) {
  bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

}  // namespace replicant::net
