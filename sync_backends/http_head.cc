#include "sync_backends/http_head.h"

#include <cctype>
#include <string_view>

namespace replicant::sync {
namespace {

constexpr size_t kMaxHeaderLine = 8192;
constexpr size_t kMaxHeaders = 100;

std::string_view Strip(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<int64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string Shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += '?';
  }
  return out;
}

}  // namespace

Result<HttpResponseHead> ReadHttpResponseHead(ByteStream& in) {
  HttpResponseHead head;
  auto line = in.ReadLine(kMaxHeaderLine);
  if (!line.ok()) {
    if (line.status().IsNotFound()) return Status::IOError("connection closed before a response");
    return line.status();
  }
  std::string_view l = Strip(*line);  // "HTTP/1.1 200 OK"
  size_t sp = l.find(' ');
  std::optional<int64_t> code;
  if (l.substr(0, 5) == "HTTP/" && sp != std::string_view::npos) {
    code = ParseDecimal(Strip(l.substr(sp + 1, 4)));
  }
  if (!code || *code < 100 || *code > 999) {
    return Status::IOError("bad status line '" + Shown(l) + "'");
  }
  head.status = static_cast<int>(*code);
  for (size_t n = 0;; ++n) {
    auto h = in.ReadLine(kMaxHeaderLine);
    if (!h.ok()) {
      return h.status().IsNotFound() ? Status::IOError("early end of response headers") : h.status();
    }
    std::string_view hv = Strip(*h);
    if (hv.empty()) break;
    if (n >= kMaxHeaders) return Status::IOError("too many response headers");
    size_t colon = hv.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = Lower(Strip(hv.substr(0, colon)));
    std::string value(Strip(hv.substr(colon + 1)));
    if (name == "transfer-encoding") head.chunked = Lower(value).find("chunked") != std::string::npos;
    if (name == "content-length") head.content_length = ParseDecimal(value);
    head.headers.emplace(std::move(name), std::move(value));
  }
  return head;
}

std::string HostHeader(const std::string& ip, int port) {
  bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

}  // namespace replicant::sync
