#include "net/http_request.h"

#include <ctime>

#include <fmt/format.h>

#include "base/text.h"
#include "net/http_text.h"

namespace replicant::net {
namespace {

// An HTTP head line: at most max_len bytes before its "\n", a "\r" before it dropped.
Result<std::string> ReadHttpLine(SocketStream& s, size_t max_len) {
  auto line = s.ReadLine(max_len + 1);  // +1: room for the "\r"
  if (!line.ok()) return line;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  if (line->size() > max_len) {
    return Status::InvalidArgument(fmt::format("line longer than {} bytes", max_len));
  }
  return line;
}

// RFC 7230 tchar.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!(isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                            std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

HeadError Bad(std::string msg) { return HeadError{400, std::move(msg)}; }

}  // namespace

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return &v;
  }
  return nullptr;
}

bool HttpRequest::chunked() const {
  // chunked must be the last transfer coding.
  const std::string* te = Header("transfer-encoding");
  return te && LastCodingIsChunked(*te);
}

std::optional<uint64_t> HttpRequest::content_length() const {
  const std::string* cl = Header("content-length");
  if (!cl) return std::nullopt;
  uint64_t v = 0;
  for (char c : *cl) v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}

bool HttpRequest::keep_alive() const {
  const std::string* conn = Header("connection");
  if (http_minor >= 1) return !HasToken(conn, "close");
  return HasToken(conn, "keep-alive");
}

bool HttpRequest::expects_continue() const {
  const std::string* e = Header("expect");
  return e && LowerAscii(TrimOws(*e)) == "100-continue";
}

std::optional<HeadError> ParseRequestLine(std::string_view line, HttpRequest* req) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Bad("bad request line '" + Printable(line) + "'");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Bad("bad method in '" + Printable(line) + "'");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return HeadError{version.substr(0, 5) == "HTTP/" ? 505 : 400,
                     "unsupported version in '" + Printable(line) + "'"};
  }
  if (target.empty() || target[0] != '/') return Bad("bad target in '" + Printable(line) + "'");
  for (unsigned char c : target) {
    if (c <= 0x20 || c == 0x7f) return Bad("control byte in target '" + Printable(line) + "'");
  }
  req->method = std::string(method);
  req->target = std::string(target);
  req->http_minor = version.back() - '0';
  std::string_view raw = target;
  size_t q = raw.find('?');
  if (q != std::string_view::npos) {
    req->query = std::string(raw.substr(q + 1));
    raw = raw.substr(0, q);
  }
  // http.server reduces a leading "//" to "/" (open-redirect fix), before eventlet
  // builds PATH_INFO.
  if (raw.size() >= 2 && raw[0] == '/' && raw[1] == '/') {
    while (raw.size() > 1 && raw[1] == '/') raw.remove_prefix(1);
  }
  req->path = PercentDecode(raw);
  return std::nullopt;
}

std::optional<HeadError> ParseHeaderLine(std::string_view line, HttpRequest* req) {
  if (line.front() == ' ' || line.front() == '\t') {
    return Bad("obsolete header folding is not accepted");
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    return Bad("bad header line '" + Printable(line) + "'");
  }
  std::string_view value = TrimOws(line.substr(colon + 1));
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return Bad("control byte in header value");
  }
  req->headers.emplace_back(LowerAscii(line.substr(0, colon)), std::string(value));
  return std::nullopt;
}

std::optional<HeadError> CheckFraming(const HttpRequest& req) {
  int lengths = 0;
  for (const auto& [k, v] : req.headers) {
    if (k != "content-length") continue;
    if (++lengths > 1) return Bad("more than one Content-Length");
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
      return Bad("bad Content-Length '" + Printable(v) + "'");
    }
  }
  int codings = 0;
  for (const auto& h : req.headers) codings += h.first == "transfer-encoding";
  // RFC 9112 6.1: several fields form one list, whose last coding decides the framing;
  // a second field is how request smuggling hides "chunked", so it is refused.
  if (codings > 1) return Bad("more than one Transfer-Encoding");
  if (const std::string* te = req.Header("transfer-encoding")) {
    if (!req.chunked()) return HeadError{501, "unsupported Transfer-Encoding " + Printable(*te)};
    if (lengths) return Bad("both Content-Length and Transfer-Encoding");
  }
  return std::nullopt;
}

HeadResult ReadRequestHead(SocketStream& s, const HttpLimits& limits, double idle_timeout,
                           double head_timeout) {
  HeadResult r;
  using Kind = HeadResult::Kind;
  // Keep-alive: a quiet client may take idle_timeout before its next request starts.
  auto ready = s.WaitReadable(idle_timeout);
  if (!ready.ok()) {
    r.kind = Kind::kIdleTimeout;
    r.error.message = ready.status().message();
    return r;
  }
  s.set_deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(head_timeout)));
  auto fail = [&](Kind kind, HeadError e) {
    s.set_deadline(std::nullopt);
    r.kind = kind;
    r.error = std::move(e);
    return r;
  };
  size_t total = 0;
  std::string line;
  // Skip blank lines before a request line, as http.server does once (robustness).
  for (int blank = 0;; ++blank) {
    auto l = ReadHttpLine(s, limits.max_line);
    if (!l.ok()) {
      if (l.status().IsNotFound()) return fail(Kind::kClosed, {});
      if (l.status().code() == Status::Code::kInvalidArgument) {
        return fail(Kind::kBad, {414, "request line too long"});
      }
      return fail(Kind::kIoError, {0, "reading the request line: " + l.status().message()});
    }
    total += l->size() + 2;
    if (!l->empty()) {
      line = std::move(*l);
      break;
    }
    if (blank >= 4) return fail(Kind::kBad, Bad("blank lines instead of a request"));
  }
  if (auto e = ParseRequestLine(line, &r.request)) return fail(Kind::kBad, *e);
  for (;;) {
    auto l = ReadHttpLine(s, limits.max_line);
    if (!l.ok()) {
      if (l.status().code() == Status::Code::kInvalidArgument) {
        return fail(Kind::kBad, Bad("header line too long"));
      }
      std::string why = l.status().IsNotFound() ? "client closed the connection"
                                                : l.status().message();
      return fail(Kind::kIoError, {0, "reading headers of " + r.request.method + " " +
                                          r.request.target + ": " + why});
    }
    total += l->size() + 2;
    if (total > limits.max_head) return fail(Kind::kBad, Bad("request head too large"));
    if (l->empty()) break;
    if (r.request.headers.size() >= limits.max_headers) {
      return fail(Kind::kBad, Bad(fmt::format("more than {} headers", limits.max_headers)));
    }
    if (auto e = ParseHeaderLine(*l, &r.request)) return fail(Kind::kBad, *e);
  }
  if (auto e = CheckFraming(r.request)) return fail(Kind::kBad, *e);
  s.set_deadline(std::nullopt);
  return r;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 500: return "Internal Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

std::string ResponseHead(int status, const Headers& headers) {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, ReasonPhrase(status));
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  out += "Date: ";
  out += date;
  out += "\r\n\r\n";
  return out;
}

}  // namespace replicant::net
