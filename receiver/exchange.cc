// Exchange: one request's response side (see server.h).
#include <algorithm>

#include "receiver/server.h"

#include "base/text.h"

namespace replicant::receiver {
namespace {

bool HasHeader(const net::Headers& h, std::string_view lower_name) {
  return std::any_of(h.begin(), h.end(), [&](const auto& kv) {
    return LowerAscii(kv.first) == lower_name;
  });
}

// Raw socket access after a hijack: reads and writes pass straight through.
class RawStream : public net::ByteStream {
 public:
  explicit RawStream(net::SocketStream& s) : s_(s) {}
  Result<size_t> Read(char* buf, size_t n) override { return s_.Read(buf, n); }
  Status Write(std::string_view data) override { return s_.Write(data); }

 private:
  net::SocketStream& s_;
};

}  // namespace

Status Exchange::SendHead(int status, net::Headers headers, Mode mode) {
  if (mode_ != Mode::kNone) return Status::InvalidArgument("response already started");
  mode_ = mode;
  status_ = status;
  // Only a complete response announces the connection's fate. A chunked or hijacked one
  // must not say "close": Python's http.client (Swift's SSYNC sender) would then drop
  // its socket after reading the head and send the body on a new connection.
  if (mode == Mode::kComplete) {
    bool keep = req_.keep_alive();
    if (!keep && req_.http_minor >= 1) headers.emplace_back("Connection", "close");
    if (keep && req_.http_minor == 0) headers.emplace_back("Connection", "keep-alive");
  }
  Status st = sock_.Write(net::ResponseHead(status, headers));
  if (!st.ok()) write_failed_ = true;
  return st;
}

Status Exchange::Respond(int status, std::string_view body, net::Headers headers) {
  if (!HasHeader(headers, "content-type")) {
    headers.emplace_back("Content-Type", "text/html; charset=UTF-8");
  }
  headers.emplace_back("Content-Length", std::to_string(body.size()));
  if (auto st = SendHead(status, std::move(headers), Mode::kComplete); !st.ok()) return st;
  if (req_.method == "HEAD" || body.empty()) return Status::OK();
  Status st = sock_.Write(body);
  if (!st.ok()) write_failed_ = true;
  return st;
}

Status Exchange::Respond(const HttpError& e) {
  return Respond(e.status, e.body, {{"Content-Type", e.content_type}});
}

net::ByteStream& Exchange::Body() {
  if (!body_) {
    if (req_.expects_continue() && mode_ == Mode::kNone && !continue_sent_) {
      continue_sent_ = true;
      if (!sock_.Write("HTTP/1.1 100 Continue\r\n\r\n").ok()) write_failed_ = true;
    }
    if (req_.chunked()) {
      body_ = std::make_unique<net::ChunkedReader>(sock_);
    } else {
      body_ = std::make_unique<net::LengthReader>(sock_, req_.content_length().value_or(0));
    }
  }
  return *body_;
}

Result<net::ByteStream*> Exchange::StartChunked(int status, net::Headers headers) {
  if (!HasHeader(headers, "content-type")) {
    headers.emplace_back("Content-Type", "text/html; charset=UTF-8");
  }
  headers.emplace_back("Transfer-Encoding", "chunked");
  if (auto st = SendHead(status, std::move(headers), Mode::kChunked); !st.ok()) return st;
  chunked_ = std::make_unique<net::ChunkedWriter>(sock_);
  return static_cast<net::ByteStream*>(chunked_.get());
}

Result<net::ByteStream*> Exchange::Hijack(int status, net::Headers headers) {
  if (auto st = SendHead(status, std::move(headers), Mode::kHijacked); !st.ok()) return st;
  sock_.set_paced(true);  // a session that drips must not hold its partition
  body_ = std::make_unique<RawStream>(sock_);
  return body_.get();
}

void Exchange::Note(std::string note) {
  if (!note_.empty()) note_ += "; ";
  note_ += note;
}

bool Exchange::Finish() {
  if (mode_ == Mode::kChunked && chunked_ && !write_failed_) {
    if (!chunked_->Finish().ok()) write_failed_ = true;
  }
  if (mode_ != Mode::kComplete || write_failed_ || !req_.keep_alive()) return false;
  // A client that waits for "100 Continue" may never send the body we did not ask for.
  bool has_body = req_.chunked() || req_.content_length().value_or(0) > 0;
  if (!body_ && has_body && req_.expects_continue()) return false;
  // The next request starts after this one's body: read what the handler left, up to a
  // bound (more than that is not worth reading just to keep the connection).
  net::ByteStream& body = Body();
  char buf[8192];
  size_t drained = 0;
  for (;;) {
    auto n = body.Read(buf, sizeof(buf));
    if (!n.ok()) return false;
    if (*n == 0) return true;
    drained += *n;
    if (drained > (1 << 20)) return false;
  }
}

}  // namespace replicant::receiver
